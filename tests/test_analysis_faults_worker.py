"""Every touched series is analysed, whatever dies when: real workers killed with SIGKILL, a
broker restarted under posts, a poisoned series beside healthy ones, a busy series whose job
was lost. Each test ends with every series analysed; the time that takes is printed."""

import os
import signal
import threading
import time
import uuid

import numpy as np
import pytest

from evaluations.models import Finding, Series
from evaluations.services import projects
from tests.conftest import client_for, wait_until
from tests.processes import running_stack
from tests.test_analysis_faults import poisoned, runs_of, stepped
from trackerapp.celery import app as celery_app

# A fast sweep, so that the tests end soon: every second, for jobs queued 3 s ago.
FAST_SWEEP = {"SWEEP_INTERVAL_SECONDS": "1", "SWEEP_GRACE_SECONDS": "3",
              "ANALYSIS_DELAY_SECONDS": "0"}  # fmt: skip

pytestmark = [pytest.mark.worker, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def own_queue():
    """Jobs this test's posts queue go to a queue of its own, which its workers take."""
    queue, previous = f"faults-{uuid.uuid4().hex[:8]}", celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = queue
    yield queue
    celery_app.conf.task_default_queue = previous


@pytest.fixture
def shared_broker_stack(tmp_path, settings, own_queue):
    """Workers on the tests' broker, taking the jobs of this test's posts."""
    env = {**FAST_SWEEP, "CELERY_TASK_DEFAULT_QUEUE": own_queue}
    with running_stack(tmp_path, settings.CELERY_BROKER_URL, **env) as stack:
        yield stack


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


def test_a_worker_killed_mid_backlog_leaves_no_series_unanalysed(settings, shared_broker_stack):
    settings.ANALYSIS_DELAY_SECONDS = 0
    project, _ = projects.ensure_project(name="acme")
    client = client_for(projects.create_token(project=project)[1])
    runs = backlog()
    for start in range(0, len(runs), 5):  # 2,000 series, their jobs queued, no worker yet
        response = client.post("/api/v1/runs/batch/", {"runs": runs[start : start + 5]},
                               format="json")  # fmt: skip
        assert response.status_code == 201
    assert Series.objects.filter(dirty=True).count() == 2000
    first = shared_broker_stack.start_worker(beat=True)

    assert wait_until(lambda: Finding.objects.exists(), timeout=60)
    os.killpg(first.pid, signal.SIGKILL)  # the worker, its pool and beat, mid-backlog
    first.wait()
    done_at_kill = Series.objects.filter(dirty=False).count()
    assert done_at_kill < 2000, "the backlog was over before the kill"
    # What was marked analysed was analysed: each such series has its step's finding.
    assert Series.objects.filter(dirty=False, findings__isnull=True).count() == 0

    started = time.monotonic()
    shared_broker_stack.start_worker(beat=True)
    assert wait_until(lambda: not Series.objects.filter(dirty=True).exists(), timeout=180)
    elapsed = time.monotonic() - started
    assert Finding.objects.filter(kind="step").count() == 2000
    print(f"\nkilled with {done_at_kill}/2000 analysed; the rest {elapsed:.1f} s after restart")


def test_a_broker_restart_under_posts_loses_no_analysis(tmp_path):
    with running_stack(tmp_path, **FAST_SWEEP) as stack:
        client = stack.start_web(workers=2)
        # Worker and beat as deployed: each its own process, the worker under the supervisor
        # (Celery 5.7.0 can still exit on a job acknowledged on the lost connection).
        worker = stack.start_worker(["scripts/worker"])
        stack.start_beat()
        _posts_through_a_broker_restart(stack, client, worker)


def _posts_through_a_broker_restart(stack, client, worker):
    answers = []

    def post_for(seconds):
        rng = np.random.default_rng(1)
        deadline, i = time.monotonic() + seconds, 0
        while time.monotonic() < deadline:
            (run,) = runs_of({f"m{k}": [0.9 + rng.normal(0, 0.004)] for k in range(5)},
                             start=i)  # fmt: skip
            answers.append(client.post("/api/v1/runs/", json=run).status_code)
            i += 1
            time.sleep(0.1)

    poster = threading.Thread(target=post_for, args=(12,))
    poster.start()
    time.sleep(3)
    stack.redis.kill()  # the broker dies with what it held (it keeps nothing on disk)
    time.sleep(3)
    stack.redis.start()
    restarted = time.monotonic()
    poster.join()

    assert set(answers) == {201}, answers
    analysed = wait_until(lambda: not Series.objects.filter(dirty=True).exists(), timeout=120)
    assert analysed, "\n".join(
        f"--- {log.name}\n{log.read_text()[-3000:]}" for log in stack.tmp_path.glob("*.log")
    )
    elapsed = time.monotonic() - restarted
    assert worker.poll() is None, worker.log_path.read_text()[-4000:]
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
    settings, own_queue, shared_broker_stack
):
    settings.ANALYSIS_DELAY_SECONDS = 0
    project, _ = projects.ensure_project(name="acme")
    client = client_for(projects.create_token(project=project)[1])
    shared_broker_stack.start_worker(beat=True)
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
