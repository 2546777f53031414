"""The README's Python example of ``Tracker``, run as written against a live server."""

import re

import pytest

from evaluations.models import EvaluationRun
from evaluations.services import projects
from tests.conftest import ROOT

SECTION = "### From Python"


def python_example():
    readme = (ROOT / "README.md").read_text()
    after = readme[readme.index(SECTION) :]
    return re.search(r"```python\n(.*?)```", after, re.S).group(1)


@pytest.mark.django_db(transaction=True)
def test_the_readme_python_example_runs_against_a_live_server(live_server, monkeypatch, capsys):
    project, _ = projects.ensure_project(name="acme")
    monkeypatch.setenv("TRACKER_URL", live_server.url)
    monkeypatch.setenv("TRACKER_TOKEN", projects.create_token(project=project, scope="admin")[1])

    exec(compile(python_example(), "README.md", "exec"), {})

    lines = capsys.readouterr().out.splitlines()
    run = EvaluationRun.objects.get()
    assert lines[0].endswith(f"/runs/{run.pk}/ no_baseline")
    assert lines[1:4] == ["2.0.0 0.912", "2.0.0", "0"]
    assert lines[4] == "400 {'metrics': {'0': {'value': ['Must be a number, not a string.']}}}"
