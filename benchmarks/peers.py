"""The peers measured side by side with the service, in the same run and on the same machine:
MLflow's tracking server (create-run, log-batch, end-run over its REST API, PostgreSQL behind
it, as many worker processes as our gunicorn) and PostgreSQL's own bulk paths (``execute_values``
and ``COPY`` of the same rows into a copy of the results table, its indexes and constraints
included).

MLflow is a benchmark-only dependency, installed in a venv of its own so that its pins never
meet the service's: ``make bench-venv`` (``requirements-bench.txt``) makes ``.bench-venv``.
"""

import io
import os
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import psycopg2
import psycopg2.extras

from .stack import BENCH_DB, PG_DSN, ROOT, WORKERS, BenchError, free_port, sql, stop, tail

BENCH_VENV = ROOT / ".bench-venv"
MLFLOW_DB = f"{BENCH_DB}_mlflow"
STARTUP_SECONDS = 120


@contextmanager
def mlflow_server():
    """A running MLflow tracking server on a scratch PostgreSQL database; yields its URL."""
    mlflow = BENCH_VENV / "bin" / "mlflow"
    if not mlflow.exists():
        raise BenchError(f"{mlflow} is missing: `make bench-venv` installs MLflow for this.")
    sql(f"DROP DATABASE IF EXISTS {MLFLOW_DB} WITH (FORCE)")
    sql(f"CREATE DATABASE {MLFLOW_DB}")
    port = free_port()
    with tempfile.TemporaryDirectory() as artifacts, tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [mlflow, "server", "--host", "127.0.0.1", "--port", str(port),
             "--workers", str(WORKERS),
             "--backend-store-uri", f"postgresql+psycopg2://postgres@127.0.0.1:5432/{MLFLOW_DB}",
             "--default-artifact-root", artifacts],
            env={**os.environ, "PATH": f"{BENCH_VENV / 'bin'}:{os.environ['PATH']}"},
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            base_url = f"http://127.0.0.1:{port}"
            _wait_for_mlflow(base_url, process, log)
            yield base_url
        finally:
            stop(process)
            try:
                sql(f"DROP DATABASE IF EXISTS {MLFLOW_DB} WITH (FORCE)")
            except psycopg2.Error as exc:
                print(f"warning: could not drop database {MLFLOW_DB}: {exc}")
            print(f"Stopped MLflow (pid {process.pid}), dropped {MLFLOW_DB}.")


def _wait_for_mlflow(base_url, process, log):
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"mlflow server exited with {process.returncode}:\n{tail(log)}")
        try:
            if httpx.get(f"{base_url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise BenchError(f"mlflow server did not answer in {STARTUP_SECONDS} s:\n{tail(log)}")


class MlflowClients:
    """Clients that log evaluation runs to MLflow as its own client does for a run of many
    metrics: create the run, log its metrics in batches of at most 1,000 (the API's limit),
    end it. A "post" here is those requests, one after another, timed together."""

    BATCH = 1000

    def __init__(self, base_url):
        self.base_url = base_url
        answer = httpx.post(
            f"{base_url}/api/2.0/mlflow/experiments/create",
            json={"name": f"bench-{time.time_ns()}"},
            timeout=30,
        )
        if not answer.is_success:
            raise BenchError(f"MLflow experiments/create answered {answer.status_code}")
        self.experiment_id = answer.json()["experiment_id"]

    def send(self, per_client):
        """Log each client's runs (lists of ``(key, value)``), the clients concurrently;
        every post's latency and the wall time, in seconds."""
        stop_event = threading.Event()
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=len(per_client)) as pool:
            futures = [pool.submit(self._client, runs, stop_event) for runs in per_client]
            try:
                latencies = [latency for future in futures for latency in future.result()]
            except BaseException:
                stop_event.set()
                raise
        return latencies, time.perf_counter() - started

    def _client(self, runs, stop_event):
        latencies = []
        with httpx.Client(base_url=self.base_url, timeout=120) as client:
            for metrics in runs:
                if stop_event.is_set():
                    break
                started = time.perf_counter()
                self._log_run(client, metrics)
                latencies.append(time.perf_counter() - started)
        return latencies

    def _log_run(self, client, metrics):
        now = int(time.time() * 1000)
        created = _call(client, "runs/create",
                        {"experiment_id": self.experiment_id, "start_time": now})  # fmt: skip
        run_id = created["run"]["info"]["run_id"]
        for start in range(0, len(metrics), self.BATCH):
            batch = [
                {"key": key, "value": value, "timestamp": now, "step": 0}
                for key, value in metrics[start : start + self.BATCH]
            ]
            _call(client, "runs/log-batch", {"run_id": run_id, "metrics": batch})
        _call(client, "runs/update", {"run_id": run_id, "status": "FINISHED", "end_time": now})


def _call(client, endpoint, body):
    answer = client.post(f"/api/2.0/mlflow/{endpoint}", json=body)
    if not answer.is_success:
        raise BenchError(f"MLflow {endpoint} answered {answer.status_code}: {answer.text[:500]}")
    return answer.json()


# PostgreSQL's own bulk paths ----------------------------------------------------------------

PEER_TABLE = "bench_peer_results"
COLUMNS = (
    "run_id", "series_id", "model_version_id", "value", "n", "n_pos", "n_neg", "ci_low",
    "ci_high", "outcomes", "recorded_at", "point",
)  # fmt: skip


def database_rates(rows, rounds=3):
    """Rows per second that PostgreSQL takes ``rows`` (tuples in COLUMNS' order) at, into a
    copy of the results table (its indexes and checks, no foreign keys), by ``execute_values``
    (pages of 1,000 rows) and by ``COPY``, one transaction each, from one client; the median
    over ``rounds``."""
    connection = psycopg2.connect(PG_DSN, dbname=BENCH_DB)
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {PEER_TABLE}")
            cursor.execute(
                f"CREATE TABLE {PEER_TABLE} (LIKE evaluations_metricresult INCLUDING ALL)"
            )
        connection.commit()
        rates = {"execute_values": [], "COPY": []}
        for _ in range(rounds):
            for name, insert in (("execute_values", _execute_values), ("COPY", _copy)):
                with connection.cursor() as cursor:
                    cursor.execute(f"TRUNCATE {PEER_TABLE}")
                connection.commit()
                started = time.perf_counter()
                with connection.cursor() as cursor:
                    insert(cursor, rows)
                connection.commit()
                rates[name].append(len(rows) / (time.perf_counter() - started))
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE {PEER_TABLE}")
        connection.commit()
    finally:
        connection.close()
    return {name: sorted(values)[len(values) // 2] for name, values in rates.items()}


def _execute_values(cursor, rows):
    psycopg2.extras.execute_values(
        cursor,
        f"INSERT INTO {PEER_TABLE} ({', '.join(COLUMNS)}) VALUES %s",
        rows,
        page_size=1000,
    )


def _copy(cursor, rows):
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join(_copy_value(value) for value in row) + "\n")
    buffer.seek(0)
    cursor.copy_expert(f"COPY {PEER_TABLE} ({', '.join(COLUMNS)}) FROM STDIN", buffer)


def _copy_value(value):
    if value is None:
        return "\\N"
    if isinstance(value, str):
        return value.replace("\\", "\\\\")
    return value.isoformat() if hasattr(value, "isoformat") else str(value)
