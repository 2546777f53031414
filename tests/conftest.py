"""Fixtures: projects with tokens, API clients, run bodies, and a real Celery worker.

Tests marked ``postgres`` need PostgreSQL and ``worker`` need a broker; without them they
are skipped locally, but in CI (``CI`` set) a missing service fails the run instead.
"""

import copy
import email
import os
import socket
import subprocess
import sys
import time
import uuid
from email import policy
from pathlib import Path

import pytest
from django.core.cache import cache
from django.db import connection
from rest_framework.test import APIClient

from evaluations import selectors
from evaluations.services import projects, rows
from trackerapp.celery import app as celery_app

ROOT = Path(__file__).resolve().parent.parent
IN_CI = bool(os.environ.get("CI"))

RUN_BODY = {
    "model": "fraud-detector",
    "version": "1.4.0",
    "commit": "abc123",
    "branch": "main",
    "dataset": {"name": "holdout", "version": "2024-06", "size": 10000},
    "environment": "offline",
    "external_id": "ci-run-881-attempt-1",
    "seed": 42,
    "finished_at": "2026-11-20T10:00:00Z",
    "metadata": {"ci_url": "https://ci.example.com/runs/881"},
    "metrics": [
        {"name": "accuracy", "value": 0.931, "n": 10000},
        {"name": "f1", "value": 0.88, "slice": "country=DE"},
        {
            "name": "latency_p95_ms",
            "value": 41.2,
            "direction": "lower_is_better",
            "unit": "ms",
        },
    ],
}


def pytest_runtest_setup(item):
    if item.get_closest_marker("postgres") and connection.vendor != "postgresql":
        _missing(f"needs PostgreSQL (DATABASE_URL), the database is {connection.vendor}")
    if item.get_closest_marker("worker") and not os.environ.get("CELERY_BROKER_URL"):
        _missing("needs a broker (CELERY_BROKER_URL) for a real Celery worker")


def _missing(reason):
    if IN_CI:
        pytest.fail(f"CI must run this test: it {reason}")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def tasks_in_process(request):
    """Tasks run in-process except in tests that exercise a real worker."""
    eager = not request.node.get_closest_marker("worker")
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = eager
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def fresh_caches():
    """Each test's database starts empty: what an earlier test left in caches is gone."""
    rows.forget_all()
    selectors.forget_baseline_results()
    cache.clear()


@pytest.fixture
def run_body():
    """A fresh copy of the example body from the README."""
    return copy.deepcopy(RUN_BODY)


@pytest.fixture
def project(db):
    project, _ = projects.ensure_project(name="acme")
    return project


@pytest.fixture
def token(project):
    """An admin token: the tests of each endpoint's behaviour are not about scopes."""
    return projects.create_token(project=project, name="ci", scope="admin")[1]


def client_for(secret):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def api(token):
    return client_for(token)


@pytest.fixture
def other_api(db):
    other, _ = projects.ensure_project(name="globex")
    return client_for(projects.create_token(project=other, scope="admin")[1])


@pytest.fixture
def post_run(api):
    def post(body, client=None, **extra):
        return (client or api).post("/api/v1/runs/", body, format="json", **extra)

    return post


@pytest.fixture
def member(client, project):
    """The test client, logged in as ana, a member of the project."""
    client.force_login(projects.ensure_member(project=project, username="ana"))
    return client


@pytest.fixture
def migrator(transactional_db):
    """Migrate the test database to a past state (``migrator.migrate(targets)``, answering the
    apps of that state); afterwards it is migrated forward to the latest migrations again, so
    that the tests after it find every column."""
    from django.db.migrations.executor import MigrationExecutor

    class Migrator:
        def migrate(self, targets):
            executor = MigrationExecutor(connection)
            executor.loader.build_graph()
            executor.migrate(targets)
            return executor.loader.project_state(targets).apps

    yield Migrator()
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker, tmp_path_factory, smtp_port):
    """A real Celery worker process on the test database, on a queue of its own."""
    queue = f"test-{uuid.uuid4().hex[:8]}"
    with django_db_blocker.unblock():
        database_url = database_url_for_processes()
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "DATABASE_CONN_MAX_AGE": "0",
        # Mail goes to the tests' SMTP server (the ``smtp`` fixture), at once, no digest wait.
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_port),
        "EMAIL_TIMEOUT": "5",
        "ALERT_DIGEST_SECONDS": "0",
    }
    hostname = f"{queue}@localhost"
    log = open(log_path, "w")  # noqa: SIM115 (closed at teardown)
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "trackerapp", "worker", "--pool", "solo",
         "--queues", queue, "--hostname", hostname, "--loglevel", "info", "--without-heartbeat",
         "--without-mingle", "--without-gossip"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    previous_queue = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = queue
    try:
        _wait_for_worker(hostname, process, log_path)
        yield process
    finally:
        celery_app.conf.task_default_queue = previous_queue
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def database_url_for_processes():
    """The test database's URL, for the processes the tests start (worker, beat, gunicorn)."""
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        return (
            f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        )
    return f"sqlite:///{db['NAME']}"


def _wait_for_worker(hostname, process, log_path, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Celery worker exited:\n{log_path.read_text()}")
        if celery_app.control.ping(destination=[hostname], timeout=1):
            return
    raise RuntimeError(f"Celery worker did not answer within {timeout}s:\n{log_path.read_text()}")


def wait_until(condition, timeout=30, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    return condition()


class SmtpInbox:
    """A real SMTP server (aiosmtpd) on a loopback port that keeps what it receives."""

    def __init__(self, port):
        self.port, self.messages, self.controller = port, [], None

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(
            (envelope.rcpt_tos, email.message_from_bytes(envelope.content, policy=policy.default))
        )
        return "250 OK"

    def start(self):
        from aiosmtpd.controller import Controller

        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def smtp_port():
    return free_port()


@pytest.fixture
def smtp(smtp_port, settings):
    """An SMTP server the service sends to; ``smtp.stop()`` and ``smtp.start()`` simulate
    an outage."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", smtp_port, 5
    inbox = SmtpInbox(smtp_port)
    inbox.start()
    yield inbox
    inbox.stop()
