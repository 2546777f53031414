"""The worker and beat keep running through a restart of their Redis broker.

Each test runs a stack of its own, as deployed: a redis-server on a free port that keeps
nothing on disk, the web process (gunicorn), and a Celery worker and/or beat on that Redis,
all on the test database; it restarts that Redis (the shared one of the other tests is never
touched) and watches what the processes do. A restart loses the messages Redis held,
including those the worker had received and not yet acknowledged; the series they were for
stay due in the database, and the beat sweep queues them again.
"""

import os
import re
import signal
import time
import uuid
from datetime import datetime

import pytest

from evaluations.models import Series
from tests.conftest import wait_until
from tests.processes import running_stack, wait_for_log

pytestmark = [pytest.mark.worker, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

# How long a post's analysis jobs wait in the worker, received and unacknowledged.
ANALYSIS_DELAY = 3


@pytest.fixture
def stack(tmp_path):
    with running_stack(tmp_path, ANALYSIS_DELAY_SECONDS=str(ANALYSIS_DELAY)) as stack:
        yield stack


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

    sent = "Scheduler: Sending due task"
    wait_for_log(supervisor, sent)
    os.kill(first, signal.SIGKILL)
    wait_for_log(supervisor, "beat: Starting...", count=2)
    _, second = supervised_pids(supervisor, 2)
    # The second beat is up once it sends a task itself: the first one sent several (the
    # sweeps and the heartbeat), and a Ctrl-C before the new beat's start is not this test's.
    wait_for_log(supervisor, sent, count=supervisor.log_path.read_text().count(sent) + 1)

    supervisor.send_signal(signal.SIGINT)  # Ctrl-C
    assert supervisor.wait(timeout=30) == 0
    assert gone(second)
    assert "exited unasked" in supervisor.log_path.read_text()
