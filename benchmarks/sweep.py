"""Benchmark of a full analysis sweep: 10,000 series of 200 points each, analysed by one
Celery worker (one process) on PostgreSQL and Redis.

It fills a scratch database (``trackerapp_bench``) with 100 models x 10 metrics x 10 slices of
200 versions each (2,000,000 results, written with COPY), 5% of the series with a planted slow
drift, marks every series due, runs the beat sweep (which queues the series in jobs of 200),
and times one worker until every series is analysed. It prints series per second, the wall
time, the worker's peak memory (resident set of the worker and its pool process), and how many
findings the planted and the flat series produced. Target: under 60 s, memory under 1 GB.

    .venv/bin/python -m benchmarks.sweep [--series 10000] [--points 200]
"""

import argparse
import io
import os
import secrets
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from .stack import BenchError, broker_queue, celery_worker, database, manage, server_env

METRICS, SLICES = 10, 10
DRIFT_SHARE = 0.05
TIMEOUT = 600


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--points", type=int, default=200)
    args = parser.parse_args(argv)
    queue = f"bench-{secrets.token_hex(4)}"
    env = {
        **server_env(queue),
        "DJANGO_SETTINGS_MODULE": "trackerapp.settings",
        "SWEEP_GRACE_SECONDS": "0",
        "ANALYSIS_DELAY_SECONDS": "0",
    }
    with database(), broker_queue(queue):
        manage("migrate", "--noinput", env=env)
        os.environ.update(env)
        import django

        django.setup()
        started = time.perf_counter()
        planted = load(args.series, args.points)
        print(f"loaded {args.series:,} series x {args.points} points "
              f"in {time.perf_counter() - started:.1f} s")  # fmt: skip
        with celery_worker(env) as worker:
            figures = sweep(worker, args.series)
        report(figures, planted, args.series)


def load(series_count, points):
    """The histories, written straight into the tables; returns the planted series' ids."""
    from django.db import connection

    from evaluations.models import (
        EvaluationDataset,
        EvaluationRun,
        MetricDefinition,
        ModelVersion,
        RegisteredModel,
        Series,
    )  # fmt: skip
    from evaluations.services import projects

    project, _ = projects.ensure_project(name="sweep")
    dataset = EvaluationDataset.objects.create(project=project, name="holdout", version="v1")
    metrics = MetricDefinition.objects.bulk_create(
        MetricDefinition(project=project, name=f"score_{m}", direction="higher_is_better")
        for m in range(METRICS)
    )
    models = RegisteredModel.objects.bulk_create(
        RegisteredModel(project=project, name=f"model-{i}")
        for i in range(series_count // (METRICS * SLICES))
    )
    start = datetime(2024, 1, 1, tzinfo=UTC)
    versions = ModelVersion.objects.bulk_create(
        ModelVersion(model=model, label=f"1.{p}") for model in models for p in range(points)
    )
    runs = EvaluationRun.objects.bulk_create(
        EvaluationRun(project=project, model_version=version, dataset=dataset, payload_digest="",
                      recorded_at=start + timedelta(days=index % points))
        for index, version in enumerate(versions)
    )  # fmt: skip
    series = Series.objects.bulk_create(
        Series(model=model, dataset=dataset, metric=metric, slice=f"slice-{s}",
               dirty=True, touched_at=start)
        for model in models for metric in metrics for s in range(SLICES)
    )  # fmt: skip
    rng = np.random.default_rng(7)
    planted = set(rng.choice([row.pk for row in series], int(len(series) * DRIFT_SHARE),
                             replace=False).tolist())  # fmt: skip
    runs_of = {model.pk: runs[i * points : (i + 1) * points] for i, model in enumerate(models)}
    buffer = io.StringIO()
    for row in series:
        values = 0.9 + rng.normal(0, 0.004, points)
        if row.pk in planted:  # 6 sigma over the last 30 versions
            values[-30:] -= np.linspace(0, 0.024, 30)
        for run, value in zip(runs_of[row.model_id], values, strict=True):
            buffer.write(f"{run.pk}\t{row.pk}\t{run.model_version_id}\t{value:.6f}\t"
                         f"{run.recorded_at.isoformat()}\n")  # fmt: skip
    buffer.seek(0)
    with connection.cursor() as cursor:
        cursor.copy_expert(
            "COPY evaluations_metricresult (run_id, series_id, model_version_id, value, "
            "recorded_at) FROM STDIN",
            buffer,
        )
        cursor.execute("ANALYZE")
    return planted


def sweep(worker, series_count):
    from evaluations.models import Series
    from evaluations.tasks import sweep_series

    peak = PeakMemory(worker.pid)
    peak.start()
    started = time.perf_counter()
    sweep_series()
    deadline = started + TIMEOUT
    while Series.objects.filter(analysed_at__isnull=True).exists():
        if time.perf_counter() > deadline:
            raise BenchError(f"the sweep did not finish within {TIMEOUT} s")
        if worker.poll() is not None:
            raise BenchError(f"the worker exited with {worker.returncode}")
        time.sleep(0.2)
    seconds = time.perf_counter() - started
    peak.stop()
    return {"seconds": seconds, "peak_mb": peak.peak_kb / 1024}


class PeakMemory(threading.Thread):
    """Samples the resident memory of a process and its children every 100 ms."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak_kb, self._done = pid, 0, threading.Event()

    def run(self):
        while not self._done.wait(0.1):
            self.peak_kb = max(self.peak_kb, sum(rss_kb(p) for p in family(self.pid)))

    def stop(self):
        self._done.set()
        self.join()


def family(pid):
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return pids
    for child in children:
        pids += family(int(child))
    return pids


def rss_kb(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def report(figures, planted, series_count):
    from evaluations.models import Finding

    found = set(Finding.objects.values_list("series_id", flat=True))
    rate = series_count / figures["seconds"]
    print(f"sweep of {series_count:,} series: {figures['seconds']:.1f} s, {rate:,.0f} series/s "
          f"(target: under 60 s)")  # fmt: skip
    print(f"worker peak memory: {figures['peak_mb']:.0f} MB (target: under 1,024 MB)")
    flat = series_count - len(planted)
    print(f"findings: {len(found & planted)} of {len(planted)} planted drifts found; "
          f"{len(found - planted)} of {flat} flat series flagged")  # fmt: skip
    met = figures["seconds"] < 60 and figures["peak_mb"] < 1024
    print(f"verdict: {'PASS' if met else 'MISS'}")


if __name__ == "__main__":
    try:
        main()
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
