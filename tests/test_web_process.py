"""The web as deployed: gunicorn with several workers (the settings scripts/web gives it)
answers /metrics with the requests of all its workers, whichever worker is scraped, and with
LOG_FORMAT=json its own lines are JSON too."""

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ROOT, database_url_for_processes, free_port, wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def gunicorn(tmp_path):
    """gunicorn with two workers on the test database; yields (base URL, log path)."""
    port, metrics_dir, log_path = free_port(), tmp_path / "metrics", tmp_path / "gunicorn.log"
    metrics_dir.mkdir()
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_processes(),
        "DEBUG": "1",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "LOG_FORMAT": "json",
    }
    env.pop("CELERY_BROKER_URL", None)  # the health check answers without one
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "trackerapp.wsgi:application",
             "--config", "python:trackerapp.gunicorn_config", "--workers", "2",
             "--bind", f"127.0.0.1:{port}", "--access-logfile", "-"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_for(base, process, log_path)
            yield base, log_path, metrics_dir
        finally:
            process.terminate()
            process.wait(timeout=30)


def _wait_for(base, process, log_path, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited:\n{log_path.read_text()}")
        try:
            # Long enough for a worker's start: a request given up on would be counted later.
            httpx.get(f"{base}/healthz", timeout=30)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer:\n{log_path.read_text()}")


def healthz_requests(text):
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "tracker_http_requests_total" and sample.labels == {
                "route": "healthz", "method": "GET", "status": "2xx"
            }:  # fmt: skip
                return sample.value
    return 0


def test_metrics_sum_the_requests_of_every_gunicorn_worker(gunicorn):
    base, _, metrics_dir = gunicorn
    before = healthz_requests(httpx.get(f"{base}/metrics", timeout=10).text)

    def get(_):
        # A new connection each time, several at once: both workers answer some.
        return httpx.get(f"{base}/healthz", timeout=10).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(get, range(40))) == {200}

    scrapes = [httpx.get(f"{base}/metrics", timeout=10).text for _ in range(6)]

    assert {healthz_requests(text) for text in scrapes} == {before + 40}
    pids = {path.stem.rsplit("_", 1)[-1] for path in metrics_dir.glob("counter_*.db")}
    assert len(pids) == 2


def test_with_log_format_json_every_gunicorn_line_is_json_and_access_lines_carry_the_id(gunicorn):
    base, log_path, _ = gunicorn

    response = httpx.get(f"{base}/healthz", headers={"X-Request-ID": "edge-5d1c"}, timeout=10)
    assert response.headers["X-Request-ID"] == "edge-5d1c"

    def access_line():
        lines = [json.loads(x) for x in log_path.read_text().splitlines() if x.strip()]
        return [
            x for x in lines if x["logger"] == "gunicorn.access" and "edge-5d1c" in x["message"]
        ]

    [line] = wait_until(access_line, timeout=10)
    assert '"GET /healthz HTTP/1.1" 200' in line["message"]
    assert line["level"] == "INFO"
    starts = [
        x for x in map(json.loads, log_path.read_text().splitlines()) if "Booting" in x["message"]
    ]
    assert starts and starts[0]["logger"] == "gunicorn.error"
