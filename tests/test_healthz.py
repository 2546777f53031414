"""GET /healthz: database and broker status for load balancers and compose."""

import pytest
from django.db import connection

from trackerapp.celery import app as celery_app


def test_healthz_reports_ok(client, db):
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["database"] == "ok"
    assert body["broker"] in ("ok", "in-process")
    assert body["status"] == "ok"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_healthz_answers_503_when_the_database_is_down(client, monkeypatch):
    connection.close()
    monkeypatch.setitem(connection.settings_dict, "PORT", "1")  # nothing listens there

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "down",
        "database": "unavailable",
        "broker": response.json()["broker"],
    }
    connection.close()


def test_healthz_reports_a_dead_broker_as_degraded(client, db, monkeypatch):
    monkeypatch.setitem(celery_app.conf, "task_always_eager", False)
    # Celery reads the broker URL from this variable before its settings.
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:1/0")

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["broker"] == "unavailable"
    assert response.json()["status"] == "degraded"


@pytest.mark.worker
def test_healthz_reaches_the_real_broker(client, db):
    response = client.get("/healthz")

    assert response.json()["broker"] == "ok"
