"""An alert is never lost to a worker that dies mid-delivery: a real worker killed with SIGKILL
while a webhook's far end hangs leaves the notification pending with its batch; beat's sweep
hands it to the next worker, which sends the same delivery (the same X-Tracker-Delivery id)."""

import os
import signal
import uuid

import pytest

from evaluations.models import Channel, Notification
from evaluations.services import projects
from tests.conftest import client_for, wait_until
from tests.far_end import FarEnd, Reply
from tests.processes import running_stack
from tests.test_analysis_jobs import history, planted_drift
from trackerapp.celery import app as celery_app

pytestmark = [pytest.mark.worker, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def own_queue():
    queue, previous = f"alerts-{uuid.uuid4().hex[:8]}", celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = queue
    yield queue
    celery_app.conf.task_default_queue = previous


@pytest.fixture
def far_end():
    server = FarEnd().start()
    yield server
    server.stop()


def test_a_worker_killed_mid_delivery_leaves_the_alert_to_the_sweep(
    settings, tmp_path, own_queue, far_end
):
    settings.ANALYSIS_DELAY_SECONDS = settings.ALERT_DIGEST_SECONDS = 0
    far_end.replies = [Reply(200, delay=60)]  # the first delivery hangs
    env = {"CELERY_TASK_DEFAULT_QUEUE": own_queue, "ALERT_DIGEST_SECONDS": "0",
           "ANALYSIS_DELAY_SECONDS": "0", "CHANNEL_TIMEOUT_SECONDS": "120",
           "SWEEP_INTERVAL_SECONDS": "1", "NOTIFICATION_GRACE_SECONDS": "2"}  # fmt: skip
    project, _ = projects.ensure_project(name="acme")
    Channel.objects.create(
        project=project, name="hook", kind="webhook", url=far_end.url, secret="k" * 16
    )
    client = client_for(projects.create_token(project=project)[1])
    with running_stack(tmp_path, settings.CELERY_BROKER_URL, **env) as stack:
        worker = stack.start_worker()
        response = client.post("/api/v1/runs/batch/", {"runs": history(planted_drift())},
                               format="json")  # fmt: skip
        assert response.status_code == 201
        assert wait_until(lambda: len(far_end.requests) == 1, timeout=60)

        os.killpg(worker.pid, signal.SIGKILL)  # mid-delivery: the far end has not answered
        worker.wait()
        notification = Notification.objects.get()
        assert notification.state == "pending" and notification.batch_key is not None
        stack.start_worker(beat=True)

        assert wait_until(lambda: Notification.objects.filter(state="sent").exists(), timeout=60)
    ids = [r.headers["X-Tracker-Delivery"] for r in far_end.requests]
    assert ids == [str(notification.batch_key)] * 2
    assert far_end.requests[0].body == far_end.requests[1].body
