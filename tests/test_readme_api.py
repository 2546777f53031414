"""The README's API examples, run as written: the ``sh`` blocks marked ``<!-- api-example -->``
are pasted, in order, into one shell against a live server with a real token, so that an
example that no longer matches the API fails here rather than in a reader's terminal."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from evaluations.models import EvaluationRun, Finding, MissedRegression
from evaluations.services import projects

README = Path(__file__).resolve().parent.parent / "README.md"
MARKER = "<!-- api-example -->"
SH_BLOCK = re.compile(r"^(<!-- api-example -->\n)?```sh\n(.*?)^```$", re.M | re.S)
README_SERVER = "http://127.0.0.1:8000"


def sh_blocks():
    """Every ``sh`` block of the README as (marked, text), in order."""
    return [(bool(m.group(1)), m.group(2)) for m in SH_BLOCK.finditer(README.read_text())]


def api_examples():
    return [text for marked, text in sh_blocks() if marked]


def test_every_curl_example_in_the_readme_is_part_of_the_tested_sequence():
    unmarked = [text for marked, text in sh_blocks() if not marked and "curl " in text]
    assert not unmarked, f"mark these with {MARKER} so that they are run: {unmarked}"
    assert len(api_examples()) >= 5


def script(base_url):
    """The examples as one shell script: each curl fails on an answer that is not 2xx, and
    each block announces itself, so that a failure names its block."""
    parts = ["set -euo pipefail"]
    for number, block in enumerate(api_examples(), 1):
        block = block.replace(README_SERVER, base_url).replace("curl ", "curl --fail-with-body ")
        parts += [f"echo '--- README API example {number}' >&2", block]
    return "\n".join(parts)


@pytest.mark.skipif(not shutil.which("curl"), reason="needs curl")
def test_the_readme_api_examples_succeed_in_order_against_a_live_server(
    live_server, tmp_path, project
):
    # An admin token, as `make run` prints: the sequence pins a baseline and sets rules too.
    token = projects.create_token(project=project, name="readme", scope="admin")[1]
    env = {"TRACKER_TOKEN": token, "PATH": os.environ["PATH"]}

    done = subprocess.run(
        ["bash", "-c", script(live_server.url)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-3000:]
    assert done.stderr.count("--- README API example") == len(api_examples())
    verdict = EvaluationRun.objects.get(model_version__label="1.5.0").gate_verdict
    failed = [c["message"] for c in verdict["checks"] if c["status"] == "failed"]
    assert verdict["status"] == "failed", verdict
    assert failed == ["accuracy 0.912 < baseline 0.931 - 0.01 on holdout (n=10000)"], verdict
    (finding,) = Finding.objects.filter(series__model__name="fraud-detector")
    assert (finding.kind, finding.status) == ("threshold", "false_alarm")
    assert (tmp_path / "baselines.json").stat().st_size > 0
    (missed,) = MissedRegression.objects.all()
    assert (missed.series.metric.name, missed.model_version.label) == ("accuracy", "1.4.0")
    precision = '{"total":1,"judged":1,"real":0,"false_alarms":1,"precision":0.0,"missed":1,'
    assert precision + '"missed_covered":0,"recall":0.0}' in done.stdout, done.stdout[-3000:]
