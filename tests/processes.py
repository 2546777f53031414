"""Real processes for fault tests: a Redis server of the test's own, a Celery worker (with
beat) as scripts/worker runs it, and gunicorn as scripts/web runs it; each can be killed."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from django.db import connection

from tests.conftest import ROOT, free_port


def test_database_url():
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Process:
    """A child process in a session of its own, so that a kill reaches its children too."""

    def __init__(self, args, *, env, log_path: Path):
        self.args, self.env, self.log_path = args, env, log_path
        self.popen = None

    def start(self):
        log = open(self.log_path, "a")  # noqa: SIM115 (the child holds it)
        self.popen = subprocess.Popen(
            self.args, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        log.close()
        return self

    def alive(self):
        return self.popen is not None and self.popen.poll() is None

    def kill(self, sig=signal.SIGKILL):
        if self.alive():
            os.killpg(self.popen.pid, sig)
            self.popen.wait(timeout=30)

    def stop(self):
        """SIGTERM, then SIGKILL if it does not stop within 20 s."""
        if not self.alive():
            return
        os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()

    def log(self):
        return self.log_path.read_text() if self.log_path.exists() else ""


def redis_server(tmp_path, port=None):
    port = port or free_port()
    args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", str(tmp_path)]  # fmt: skip
    server = Process(args, env=dict(os.environ), log_path=tmp_path / f"redis-{port}.log")
    server.port = port
    server.url = f"redis://127.0.0.1:{port}/0"
    return server


def wait_for_port(port, timeout=20):
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.05)
    return False


def service_env(*, broker_url, queue, **extra):
    """The environment of the service's processes in a test: the test database, a broker,
    a queue of the test's own, and the fast sweep a test can wait for."""
    return {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "DATABASE_CONN_MAX_AGE": "0",
        "CELERY_BROKER_URL": broker_url,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "ANALYSIS_DELAY_SECONDS": "0",
        "SWEEP_INTERVAL_SECONDS": "1",
        "SWEEP_GRACE_SECONDS": "3",
        **extra,
    }


def celery_worker(tmp_path, env):
    """The worker as deployed (prefork, 2 processes, late acks), with beat embedded."""
    name = f"w{uuid.uuid4().hex[:6]}"
    args = [sys.executable, "-m", "celery", "-A", "trackerapp", "worker", "--concurrency", "2",
            "--queues", env["CELERY_TASK_DEFAULT_QUEUE"], "--hostname", f"{name}@localhost",
            "--loglevel", "info", "--without-mingle", "--without-gossip", "--beat",
            "--schedule", str(tmp_path / f"beat-{name}")]  # fmt: skip
    return Process(args, env=env, log_path=tmp_path / f"worker-{name}.log")


def gunicorn(tmp_path, env, port=None):
    port = port or free_port()
    args = [sys.executable, "-m", "gunicorn", "trackerapp.wsgi:application", "--bind",
            f"127.0.0.1:{port}", "--workers", "2", "--timeout", "30"]  # fmt: skip
    web = Process(args, env=env, log_path=tmp_path / f"web-{port}.log")
    web.url = f"http://127.0.0.1:{port}"
    web.port = port
    return web
