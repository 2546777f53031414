"""The worker and beat keep running through a restart of their Redis broker.

Each test runs a stack of its own, as deployed: a redis-server on a free port that keeps
nothing on disk, the web process (gunicorn), and a Celery worker and/or beat on that Redis,
all on the test database; it restarts that Redis (the shared one of the other tests is never
touched) and watches what the processes do. A restart loses the messages Redis held,
including those the worker had received and not yet acknowledged; the series they were for
stay due in the database, and the beat sweep queues them again.
"""

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import datetime

import httpx
import pytest
import redis
from django.db import connection

from evaluations.models import Series
from evaluations.services import projects
from tests.conftest import IN_CI, ROOT, wait_until

pytestmark = [pytest.mark.worker, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

# How long a post's analysis jobs wait in the worker, received and unacknowledged.
ANALYSIS_DELAY = 3
BIN = os.path.dirname(sys.executable)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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

    def __init__(self, tmp_path):
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
            "CELERY_BROKER_URL": self.redis.url,
            "CELERY_TASK_DEFAULT_QUEUE": "celery",
            "ANALYSIS_DELAY_SECONDS": str(ANALYSIS_DELAY),
        }

    def spawn(self, name, args, **env):
        log_path = self.tmp_path / f"{name}.log"
        with open(log_path, "w") as log:
            process = subprocess.Popen(
                args, cwd=ROOT, env={**self.env, **env}, start_new_session=True,
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        process.log_path = log_path
        self.processes.append(process)
        return process

    def start_worker(self, command=None, **env):
        # As scripts/worker runs it, without the supervisor unless the command is the script.
        command = command or ["celery", "-A", "trackerapp", "worker", "--concurrency", "2",
                              "--loglevel", "info"]  # fmt: skip
        worker = self.spawn("worker", command, **env)
        wait_for_log(worker, "ready.")
        return worker

    def start_beat(self, **env):
        schedule = self.tmp_path / "celerybeat-schedule"
        return self.spawn(
            "beat", ["celery", "-A", "trackerapp", "beat", "--loglevel", "info",
                     "--schedule", str(schedule)], **env,
        )  # fmt: skip

    def start_web(self):
        port = free_port()
        self.spawn(
            "web", ["gunicorn", "trackerapp.wsgi:application", "--bind", f"127.0.0.1:{port}",
                    "--workers", "1"],
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


@pytest.fixture
def stack(tmp_path):
    if not shutil.which("redis-server"):
        (pytest.fail if IN_CI else pytest.skip)("needs redis-server on PATH, to restart one")
    stack = Stack(tmp_path)
    try:
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


def post_run(client, run_body, model):
    body = {**run_body, "model": model, "external_id": f"{model}-{uuid.uuid4().hex[:8]}"}
    response = client.post("/api/v1/runs/", json=body)
    assert response.status_code == 201, response.text


def analysed(model):
    return Series.objects.filter(model__name=model, analysis_count__gte=1).count()


def test_worker_keeps_consuming_through_broker_restarts(stack, run_body):
    client = stack.start_web()
    worker = stack.start_worker()

    for restart, outage in ((1, 0), (2, 5)):
        post_run(client, run_body, f"held-{restart}")
        assert wait_until(lambda: stack.redis.unacked() >= 1, timeout=10)  # jobs in the worker
        stack.redis.kill()
        wait_for_log(worker, "Connection to broker lost", count=restart)
        time.sleep(outage)
        stack.redis.start()
        back = time.time()
        model = f"after-{restart}"
        post_run(client, run_body, model)
        wait_until(lambda: analysed(model) == 3 or worker.poll() is not None, timeout=60)  # noqa: B023

        assert worker.poll() is None, worker.log_path.read_text()[-4000:]
        assert analysed(model) == 3, worker.log_path.read_text()[-4000:]
        print(f"broker away {outage} s: a job received {first_task_after(worker, back):.1f} s"
              " after it came back")  # fmt: skip
    assert "Unrecoverable error" not in worker.log_path.read_text()


def first_task_after(worker, since):
    """Seconds from ``since`` (epoch) to the first task the worker logged receiving after it."""
    received = re.findall(
        r"^\[(\S+ \S+): INFO/MainProcess\] Task \S+ received", worker.log_path.read_text(), re.M
    )
    times = [datetime.strptime(at, "%Y-%m-%d %H:%M:%S,%f").timestamp() for at in received]
    return min(at for at in times if at >= since) - since


def test_beat_sweeps_again_after_a_broker_restart_and_nothing_stays_lost(stack, run_body):
    client = stack.start_web()
    worker = stack.start_worker(SWEEP_GRACE_SECONDS="0")  # the sweep runs on the worker
    beat = stack.start_beat(SWEEP_INTERVAL_SECONDS="2", SWEEP_GRACE_SECONDS="0")
    wait_for_log(beat, "beat: Starting...")

    post_run(client, run_body, "lost-with-the-broker")
    assert wait_until(lambda: stack.redis.unacked() >= 1, timeout=10)
    stack.redis.kill()
    time.sleep(2)  # beat's sweep comes due while the broker is away
    stack.redis.start()

    assert wait_until(lambda: analysed("lost-with-the-broker") == 3, timeout=60), (
        beat.log_path.read_text()[-3000:] + worker.log_path.read_text()[-3000:]
    )
    assert not Series.objects.filter(dirty=True).exists()
    assert beat.poll() is None and worker.poll() is None


def supervised_pids(process, count, timeout=60):
    """The pids the supervisor reported starting, once there are ``count`` of them."""
    pattern = re.compile(r"started pid (\d+)")
    assert wait_until(
        lambda: len(pattern.findall(process.log_path.read_text())) >= count, timeout=timeout
    ), process.log_path.read_text()[-4000:]
    return [int(pid) for pid in pattern.findall(process.log_path.read_text())]


def gone(group):
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return True
    return False


def test_worker_script_restarts_a_killed_celery_and_stops_cleanly_on_sigterm(stack, run_body):
    client = stack.start_web()
    supervisor = stack.start_worker(["scripts/worker"])
    (first,) = supervised_pids(supervisor, 1)

    os.kill(first, signal.SIGKILL)
    wait_for_log(supervisor, "ready.", count=2)
    first_gone = wait_until(lambda: gone(first), timeout=10)  # its pool processes too
    _, second = supervised_pids(supervisor, 2)
    post_run(client, run_body, "after-the-kill")

    assert first_gone
    assert wait_until(lambda: analysed("after-the-kill") == 3, timeout=30)
    supervisor.send_signal(signal.SIGTERM)  # what `docker compose stop` sends
    assert supervisor.wait(timeout=30) == 0
    assert gone(second)
    assert "Warm shutdown" in supervisor.log_path.read_text()


def test_beat_script_restarts_a_killed_beat_and_stops_on_ctrl_c(stack):
    env = {"SWEEP_INTERVAL_SECONDS": "1", "BEAT_SCHEDULE_FILE": str(stack.tmp_path / "beat")}
    supervisor = stack.spawn("beat", ["scripts/beat"], **env)
    wait_for_log(supervisor, "beat: Starting...")
    (first,) = supervised_pids(supervisor, 1)

    os.kill(first, signal.SIGKILL)
    wait_for_log(supervisor, "beat: Starting...", count=2)
    _, second = supervised_pids(supervisor, 2)
    wait_for_log(supervisor, "Scheduler: Sending due task", count=2)

    supervisor.send_signal(signal.SIGINT)  # Ctrl-C
    assert supervisor.wait(timeout=30) == 0
    assert gone(second)
    assert "exited unasked" in supervisor.log_path.read_text()
