"""Every touched series is analysed, whatever dies when: real workers killed with SIGKILL, a
broker restarted under posts, a poisoned series beside healthy ones, a busy series whose job
was lost. Each test ends with every series analysed; the time that takes is printed."""

import threading
import time
import uuid

import httpx
import numpy as np
import pytest

from evaluations.models import Finding, Series
from evaluations.services import projects
from tests.conftest import client_for, wait_until
from tests.processes import celery_worker, gunicorn, redis_server, service_env, wait_for_port
from tests.test_analysis_faults import poisoned, runs_of, stepped
from trackerapp.celery import app as celery_app

pytestmark = [pytest.mark.worker, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def own_queue():
    """Jobs this test's posts queue go to a queue of its own, which its workers take."""
    queue, previous = f"faults-{uuid.uuid4().hex[:8]}", celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = queue
    yield queue
    celery_app.conf.task_default_queue = previous


@pytest.fixture
def processes():
    started = []
    yield started.append
    for process in reversed(started):
        process.stop()


def backlog(metrics=100, slices=20, points=20):
    """Runs touching ``metrics`` x ``slices`` series, each with a clear step to find."""
    step = stepped(points=points)
    names = [f"m{i:03}" for i in range(metrics)]
    runs = runs_of({"placeholder": step})
    for run, value in zip(runs, step, strict=True):
        run["metrics"] = [
            {"name": name, "value": float(value), "slice": f"s={j:02}",
             "direction": "higher_is_better"}
            for name in names for j in range(slices)
        ]  # fmt: skip
    return runs


def test_a_worker_killed_mid_backlog_leaves_no_series_unanalysed(
    tmp_path, settings, own_queue, processes
):
    settings.ANALYSIS_DELAY_SECONDS = 0
    project, _ = projects.ensure_project(name="acme")
    client = client_for(projects.create_token(project=project)[1])
    runs = backlog()
    for start in range(0, len(runs), 5):  # 2,000 series, their jobs queued, no worker yet
        response = client.post("/api/v1/runs/batch/", {"runs": runs[start : start + 5]},
                               format="json")  # fmt: skip
        assert response.status_code == 201
    assert Series.objects.filter(dirty=True).count() == 2000
    env = service_env(broker_url=settings.CELERY_BROKER_URL, queue=own_queue)
    first = celery_worker(tmp_path, env).start()
    processes(first)

    assert wait_until(lambda: Finding.objects.exists(), timeout=60), first.log()
    first.kill()  # SIGKILL to the worker and its pool, in the middle of the backlog
    done_at_kill = Series.objects.filter(dirty=False).count()
    assert done_at_kill < 2000, "the backlog was over before the kill"
    # What was marked analysed was analysed: each such series has its step's finding.
    assert Series.objects.filter(dirty=False, findings__isnull=True).count() == 0

    started = time.monotonic()
    processes(celery_worker(tmp_path, env).start())
    assert wait_until(lambda: not Series.objects.filter(dirty=True).exists(), timeout=180)
    elapsed = time.monotonic() - started
    assert Finding.objects.filter(kind="step").count() == 2000
    print(f"\nkilled with {done_at_kill}/2000 analysed; the rest {elapsed:.1f} s after restart")


def test_a_broker_restart_under_posts_loses_no_analysis(tmp_path, settings, processes):
    broker = redis_server(tmp_path).start()
    processes(broker)
    assert wait_for_port(broker.port)
    project, _ = projects.ensure_project(name="acme")
    secret = projects.create_token(project=project)[1]
    env = service_env(broker_url=broker.url, queue="analysis")
    web, worker = gunicorn(tmp_path, env).start(), celery_worker(tmp_path, env).start()
    processes(web)
    processes(worker)
    assert wait_for_port(web.port), web.log()
    answers, posted = [], threading.Event()

    def post_for(seconds):
        headers = {"Authorization": f"Bearer {secret}"}
        rng = np.random.default_rng(1)
        with httpx.Client(base_url=web.url, headers=headers, timeout=30) as http:
            deadline, i = time.monotonic() + seconds, 0
            while time.monotonic() < deadline:
                (run,) = runs_of({f"m{k}": [0.9 + rng.normal(0, 0.004)] for k in range(5)},
                                 start=i)  # fmt: skip
                answers.append(http.post("/api/v1/runs/", json=run).status_code)
                i += 1
                time.sleep(0.1)
        posted.set()

    poster = threading.Thread(target=post_for, args=(12,))
    poster.start()
    time.sleep(3)
    broker.kill()  # the broker dies with what it held (it keeps nothing on disk)
    time.sleep(3)
    broker.start()
    restarted = time.monotonic()
    poster.join()

    assert set(answers) == {201}, answers
    assert wait_until(lambda: not Series.objects.filter(dirty=True).exists(), timeout=120)
    elapsed = time.monotonic() - restarted
    assert worker.alive(), worker.log()
    last = Series.objects.order_by("-touched_at").values_list("touched_at", flat=True)[0]
    assert not Series.objects.filter(analysed_at__lt=last).exists()
    print(f"\n{len(answers)} posts; every series analysed {elapsed:.1f} s after the broker restart")


def test_a_poisoned_series_beside_healthy_ones_on_the_worker(celery_worker_process, settings):
    settings.ANALYSIS_DELAY_SECONDS = 0
    project, _ = projects.ensure_project(name="acme")
    client = client_for(projects.create_token(project=project)[1])
    columns = {"accuracy": stepped(), "score": poisoned(), "recall": stepped(seed=9)}

    response = client.post("/api/v1/runs/batch/", {"runs": runs_of(columns)}, format="json")

    assert response.status_code == 201
    assert wait_until(lambda: Finding.objects.count() == 2, timeout=60)
    assert wait_until(lambda: Series.objects.filter(analysis_failures=1).exists())
    assert set(Series.objects.filter(dirty=False).values_list("metric__name", flat=True)) == {
        "accuracy", "recall",
    }  # fmt: skip
    assert client.get("/healthz").json()["analysis"]["failing"] == 1


def test_a_busy_series_whose_job_was_lost_is_analysed_while_posts_keep_coming(
    tmp_path, settings, own_queue, processes
):
    settings.ANALYSIS_DELAY_SECONDS = 0
    project, _ = projects.ensure_project(name="acme")
    client = client_for(projects.create_token(project=project)[1])
    processes(
        celery_worker(
            tmp_path, service_env(broker_url=settings.CELERY_BROKER_URL, queue=own_queue)
        ).start()
    )
    celery_app.conf.task_default_queue = f"{own_queue}-lost"  # where nobody takes the job
    runs = runs_of({"accuracy": stepped()})
    assert client.post("/api/v1/runs/batch/", {"runs": runs}, format="json").status_code == 201
    celery_app.conf.task_default_queue = own_queue
    series = Series.objects.get()

    analysed_while_posting = False
    for i in range(40):  # a post every 0.25 s for 10 s: the series never rests
        (run,) = runs_of({"accuracy": [0.79]}, start=30 + i)
        assert client.post("/api/v1/runs/", run, format="json").status_code == 201
        series.refresh_from_db()
        analysed_while_posting |= series.analysis_count > 0
        time.sleep(0.25)

    assert analysed_while_posting
    assert wait_until(lambda: not Series.objects.filter(dirty=True).exists(), timeout=30)
    assert Finding.objects.filter(series=series).exists()
