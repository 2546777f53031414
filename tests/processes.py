"""The service's processes for tests that break them, as deployed: a redis-server of the
test's own (nothing on disk, as the deployed one), gunicorn, a Celery worker and beat, on the
test database. Each runs in a session of its own, so that a kill reaches its children too, and
every one is stopped at teardown, pass or fail."""

import contextlib
import os
import shutil
import signal
import subprocess
import sys

import httpx
import pytest
import redis
from django.db import connection

from evaluations.services import projects
from tests.conftest import IN_CI, ROOT, free_port, wait_until

BIN = os.path.dirname(sys.executable)


class RedisServer:
    """A redis-server of the test's own, configured as the deployed one: nothing on disk."""

    def __init__(self, log_path):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log_path = log_path
        self.process = None

    def start(self):
        with open(self.log_path, "a") as log:
            self.process = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", str(self.log_path.parent)],
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        assert wait_until(self.answers, timeout=10), self.log_path.read_text()

    def kill(self):
        self.process.kill()
        self.process.wait()

    def answers(self):
        try:
            return redis.Redis(port=self.port, socket_timeout=1).ping()
        except redis.ConnectionError:
            return False

    def unacked(self):
        """Messages delivered to a worker and not yet acknowledged."""
        return redis.Redis(port=self.port, socket_timeout=1).hlen("unacked")


class Stack:
    """The processes of one test; every one is stopped at teardown, pass or fail."""

    def __init__(self, tmp_path, broker_url=None, **env):
        """On a Redis of the stack's own, or on ``broker_url``; ``env`` for every process."""
        self.tmp_path = tmp_path
        self.redis = RedisServer(tmp_path / "redis.log")
        self.processes = []
        db = connection.settings_dict
        self.env = {
            **os.environ,
            "PATH": f"{BIN}:{os.environ['PATH']}",
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}",
            "DATABASE_CONN_MAX_AGE": "0",
            "CELERY_BROKER_URL": broker_url or self.redis.url,
            "CELERY_TASK_DEFAULT_QUEUE": "celery",
            **env,
        }

    def spawn(self, name, args, **env):
        log_path = self.tmp_path / f"{name}-{len(self.processes)}.log"
        with open(log_path, "w") as log:
            process = subprocess.Popen(
                args, cwd=ROOT, env={**self.env, **env}, start_new_session=True,
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        process.log_path = log_path
        self.processes.append(process)
        return process

    def start_worker(self, command=None, *, beat=False, **env):
        # As scripts/worker runs it, without the supervisor unless the command is the script;
        # with ``beat``, beat runs inside it.
        command = command or ["celery", "-A", "trackerapp", "worker", "--concurrency", "2",
                              "--loglevel", "info"]  # fmt: skip
        if beat:
            schedule = self.tmp_path / f"celerybeat-schedule-{len(self.processes)}"
            command = [*command, "--beat", "--schedule", str(schedule)]
        worker = self.spawn("worker", command, **env)
        wait_for_log(worker, "ready.")
        return worker

    def start_beat(self, **env):
        schedule = self.tmp_path / "celerybeat-schedule"
        return self.spawn(
            "beat", ["celery", "-A", "trackerapp", "beat", "--loglevel", "info",
                     "--schedule", str(schedule)], **env,
        )  # fmt: skip

    def start_web(self, workers=1):
        port = free_port()
        self.spawn(
            "web", ["gunicorn", "trackerapp.wsgi:application", "--bind", f"127.0.0.1:{port}",
                    "--workers", str(workers)],
        )  # fmt: skip
        project, _ = projects.ensure_project(name="acme")
        client = httpx.Client(
            base_url=f"http://127.0.0.1:{port}", timeout=10,
            headers={"Authorization": f"Bearer {projects.create_token(project=project)[1]}"},
        )  # fmt: skip
        assert wait_until(lambda: answers(client), timeout=30), self.tmp_path

        return client

    def stop(self):
        for process in self.processes:
            stop_group(process)
        if self.redis.process is not None:
            self.redis.kill()


@contextlib.contextmanager
def running_stack(tmp_path, broker_url=None, **env):
    """A Stack (its own Redis started unless ``broker_url``), stopped whatever happens."""
    if broker_url is None and not shutil.which("redis-server"):
        (pytest.fail if IN_CI else pytest.skip)("needs redis-server on PATH, to restart one")
    stack = Stack(tmp_path, broker_url, **env)
    try:
        if broker_url is None:
            stack.redis.start()
        yield stack
    finally:
        stack.stop()


def answers(client):
    try:
        return client.get("/healthz").status_code == 200
    except httpx.TransportError:
        return False


def stop_group(process, timeout=20):
    """Stop a process and everything it started (it leads a session of its own)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=timeout)
            return
        except subprocess.TimeoutExpired:
            continue


def wait_for_log(process, text, count=1, timeout=60):
    found = wait_until(
        lambda: process.poll() is not None or process.log_path.read_text().count(text) >= count,
        timeout=timeout,
    )
    log = process.log_path.read_text()
    assert found and log.count(text) >= count, f"no {text!r} ({count}x) in:\n{log[-4000:]}"
