"""A database outage, for real: gunicorn in front of a PostgreSQL cluster of the test's own,
which the test stops. The API answers 503 JSON with Retry-After, pages a plain 503 page,
/healthz 503, and all recover when the database is back, without a restart."""

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, free_port
from trackerclient import cli

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(180)]

RUN = {"model": "m", "version": "1", "dataset": "d", "metrics": {"accuracy": 0.9}}
UNAVAILABLE = {"detail": "The database is unavailable; try again shortly."}
SESSION_SCRIPT = """
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from evaluations.services import projects
project, _ = projects.ensure_project(name="acme")
user = projects.ensure_member(project=project, username="ana")
session = SessionStore()
session.update({SESSION_KEY: str(user.pk), HASH_SESSION_KEY: user.get_session_auth_hash(),
                BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend"})
session.create()
print(session.session_key)
"""


class Cluster:
    """A PostgreSQL cluster in a temporary folder, on a port of its own (as the postgres
    user when the tests run as root: PostgreSQL refuses to run as root)."""

    def __init__(self):
        self.folder = Path(tempfile.mkdtemp(prefix="outage-pg-"))
        self.port = free_port()
        self.data, self.log = self.folder / "data", self.folder / "log"
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres")

    def _run(self, *command):
        if os.geteuid() == 0:
            command = ("runuser", "-u", "postgres", "--", *command)
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def start(self):
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.log), "-w", "start")

    def stop(self):
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    @property
    def url(self):
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"


@pytest.fixture(scope="module")
def cluster():
    if not shutil.which("initdb") or not shutil.which("pg_ctl"):
        pytest.fail("needs PostgreSQL's initdb and pg_ctl on PATH")
    cluster = Cluster()
    cluster.start()
    yield cluster
    with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
        cluster.stop()
    shutil.rmtree(cluster.folder, ignore_errors=True)


@pytest.fixture(scope="module")
def server(cluster, tmp_path_factory):
    """gunicorn with production settings on the cluster; (url, token, session cookie)."""
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("CELERY_BROKER_URL", "CACHE_URL")},
        "DATABASE_URL": cluster.url,
        "DEBUG": "0",
        "SECRET_KEY": "outage-test-secret-key-" + "x" * 40,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "STATIC_ROOT": str(tmp_path_factory.mktemp("static")),
    }
    manage = [sys.executable, "manage.py"]
    for command in (["migrate", "--noinput"], ["collectstatic", "--noinput"]):  # as scripts/web
        subprocess.run([*manage, *command], cwd=ROOT, env=env, check=True, capture_output=True,
                       timeout=120)  # fmt: skip
    session = _output([*manage, "shell", "-c", SESSION_SCRIPT], env)
    token = _output([*manage, "create_token", "acme"], env)
    port = free_port()
    log = tmp_path_factory.mktemp("gunicorn") / "gunicorn.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "trackerapp.wsgi:application", "--bind",
             f"127.0.0.1:{port}", "--workers", "1"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(url, process, log)
        yield url, token, session
    finally:
        process.terminate()
        process.wait(timeout=20)


def _output(command, env):
    done = subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return done.stdout.strip().splitlines()[-1]


def _wait_for(url, process, log, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited:\n{log.read_text()}")
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer within {timeout}s:\n{log.read_text()}")


def test_the_api_answers_503_json_while_the_database_is_down_and_recovers(cluster, server):
    url, token, session = server
    api = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert api.post("/api/v1/runs/", json=RUN).status_code == 201
    page = httpx.Client(base_url=url, cookies={"sessionid": session}, timeout=30)
    assert page.get("/projects/acme/").status_code == 200

    cluster.stop()
    try:
        posted = api.post("/api/v1/runs/", json=RUN)
        listed = api.get("/api/v1/runs/")
        down_page = page.get("/projects/acme/")
        health = httpx.get(url + "/healthz", timeout=30)
    finally:
        cluster.start()

    for answer in (posted, listed):
        assert answer.status_code == 503
        assert answer.headers["Content-Type"] == "application/json"
        assert answer.json() == UNAVAILABLE
        assert answer.headers["Retry-After"] == "5"
    assert down_page.status_code == 503
    assert down_page.headers["Content-Type"].startswith("text/html")
    assert down_page.headers["Retry-After"] == "5"
    assert "The database is unavailable" in down_page.text
    assert health.status_code == 503
    # Back without a restart: the same worker reconnects.
    assert api.post("/api/v1/runs/", json=RUN).status_code == 201
    assert page.get("/projects/acme/").status_code == 200
    assert api.get("/api/v1/runs/").json()["count"] == 2


def test_the_ci_client_waits_out_an_outage_and_stores_the_run_once(
    cluster, server, tmp_path, capsys
):
    url, token, _ = server
    api = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    before = api.get("/api/v1/runs/").json()["count"]
    results = tmp_path / "results.json"
    results.write_text(json.dumps(RUN))
    cluster.stop()
    # The database comes back while the client waits out the Retry-After of its first try.
    restart = threading.Timer(2, cluster.start)
    restart.start()

    # A backoff of a minute would time the test out: the server's Retry-After must win.
    code = cli.main(["post", str(results), "--url", url, "--token", token, "--backoff", "60"])

    restart.join()
    err = capsys.readouterr().err
    assert code == 0, err
    assert "HTTP 503 Service Unavailable" in err
    assert "retrying in 5 s (attempt 2 of 5)" in err
    assert api.get("/api/v1/runs/").json()["count"] == before + 1
