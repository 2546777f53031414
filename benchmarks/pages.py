"""Benchmark of the model page: a model with 1,000 versions x 20 metrics x 3 slices.

It fills a scratch PostgreSQL database (``trackerapp_bench_pages``) with one model of 1,000
versions on one dataset, 20 metrics on 3 slices each (60,000 results, written with COPY; the
classification metrics with sample sizes, latency with intervals), a pinned baseline, threshold
rules on 3 metrics, and a drift finding with its fitted trend. It then renders the model page
in-process with the production settings (DEBUG off), logged in as a member, and prints over
several rounds (medians across rounds, never a single run):

- server-side render time of the default view (one slice) and of every slice together:
  p50/p95. Target: p95 < 300 ms.
- SQL queries per page (the same whatever the history's length; a test asserts it),
- the chart data embedded in the page and the whole HTML, raw and gzipped. Target: < 2 MB.

    .venv/bin/python -m benchmarks.pages [--versions 1000] [--rounds 5] [--requests 20]
"""

import argparse
import gzip
import io
import os
import re
import secrets
import statistics
import tempfile
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import numpy as np

from .stack import manage, sql

DB = "trackerapp_bench_pages"
METRICS = (
    [(name, "higher_is_better", "", True) for name in (
        "accuracy", "precision", "recall", "f1", "auc_roc", "balanced_accuracy", "specificity",
        "top3_accuracy",
    )]
    + [(name, "lower_is_better", "", False) for name in ("mae", "rmse", "log_loss", "brier")]
    + [("r2", "higher_is_better", "", False), ("bleu", "higher_is_better", "", False)]
    + [(f"latency_{q}_ms", "lower_is_better", "ms", False) for q in ("p50", "p95", "p99")]
    + [("throughput", "higher_is_better", "req/s", False),
       ("memory_mb", "lower_is_better", "MB", False),
       ("perplexity", "lower_is_better", "", False)]
)  # fmt: skip
SLICES = ("overall", "country=DE", "country=US")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument(
        "--branches", type=int, default=1,
        help="branches of the model: main and pull requests' branches of 10 versions each",
    )  # fmt: skip
    args = parser.parse_args(argv)
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB}",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "testserver",
        "SECURE_SSL_REDIRECT": "0",
        "CELERY_BROKER_URL": "",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "trackerapp.settings",
        "STATIC_ROOT": tempfile.mkdtemp(prefix="bench-static-"),
    }
    with scratch_database():
        manage("migrate", "--noinput", env=env)
        manage("collectstatic", "--noinput", env=env)
        os.environ.update(env)
        import django

        django.setup()
        started = time.perf_counter()
        client = load(args.versions, args.branches)
        print(f"loaded 1 model x {args.versions:,} versions x {len(METRICS)} metrics x "
              f"{len(SLICES)} slices, {args.branches} branches, in "
              f"{time.perf_counter() - started:.1f} s")  # fmt: skip
        path = "/projects/bench/models/classifier/"
        views = [("one slice", ""), ("every slice", "?slice=*")]
        if args.branches > 1:
            views.append(("a branch over main", "?branch=feature/pr-1&over=main"))
        for label, query in views:
            measure(client, path + query, label, args.rounds, args.requests)


@contextmanager
def scratch_database():
    sql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    sql(f"CREATE DATABASE {DB}")
    try:
        yield
    finally:
        sql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")


def load(versions, branches=1):
    """The history written straight into the tables (main, and ``branches - 1`` pull
    requests' branches of ``BRANCH_VERSIONS`` versions off its latest); returns a logged-in
    test client."""
    from django.db import connection

    from evaluations.models import Branch, EvaluationDataset, MetricDefinition, RegisteredModel
    from evaluations.services import projects

    project, _ = projects.ensure_project(name="bench")
    dataset = EvaluationDataset.objects.create(project=project, name="holdout", version="v1")
    model = RegisteredModel.objects.create(project=project, name="classifier")
    metrics = MetricDefinition.objects.bulk_create(
        MetricDefinition(project=project, name=name, direction=direction, unit=unit)
        for name, direction, unit, _ in METRICS
    )
    start = datetime(2023, 1, 1, tzinfo=UTC)
    main = Branch.objects.create(model=model, name="main")
    lines = [(main, [f"{1 + v // 100}.{v % 100}.0" for v in range(versions)], 0)]
    lines += [
        (Branch.objects.create(model=model, name=f"feature/pr-{k}"),
         [f"pr-{k}.{v}" for v in range(BRANCH_VERSIONS)], versions - BRANCH_VERSIONS)
        for k in range(1, branches)
    ]  # fmt: skip
    rng = np.random.default_rng(11)
    buffer = io.StringIO()
    for branch, labels, offset in lines:
        line_rows, line_runs, line_series = _line(
            project, model, dataset, metrics, branch, labels, start, offset
        )
        if branch == main:
            rows, runs, series = line_rows, line_runs, line_series
        _write_results(buffer, line_series, line_runs, metrics, rng)
    buffer.seek(0)
    with connection.cursor() as cursor:
        cursor.copy_expert(
            "COPY evaluations_metricresult (run_id, series_id, model_version_id, value, n, "
            "ci_low, ci_high, recorded_at, point) FROM STDIN",
            buffer,
        )
        cursor.execute("ANALYZE")
    decorate(model, main, rows, runs, series)
    return logged_in_client(project)


def decorate(model, main, rows, runs, series):
    """What a team adds to a model's history: a pinned baseline (the middle version of the
    main line ``rows``, run ``runs``), threshold rules on 3 metrics, and a drift finding with
    its fitted trend on the first of its ``series``."""
    from evaluations.models import BaselinePin, Finding, ThresholdRule

    middle = len(rows) // 2
    BaselinePin.objects.create(
        model=model, dataset_name="holdout", branch=main, model_version=rows[middle],
        run=runs[middle], pinned_by="bench",
    )  # fmt: skip
    for name in ("accuracy", "f1", "latency_p95_ms"):
        ThresholdRule.objects.create(model=model, metric=name, max_drop_pct=2.0, min=0.5)
    drifting = series[0]
    drifting.trend = {
        "start_version": rows[-40].label, "start_value": 0.9,
        "end_version": rows[-1].label, "end_value": 0.88, "slope": -0.0005,
    }  # fmt: skip
    drifting.save(update_fields=["trend"])
    Finding.objects.create(
        series=drifting, kind="drift", start_version=rows[-40], end_version=rows[-1],
        magnitude=-0.02, message="accuracy on holdout has been falling for 40 versions",
    )  # fmt: skip


def logged_in_client(project):
    """A test client logged in as ``bench``, a member of ``project``."""
    from django.test import Client

    from evaluations.services import projects

    client = Client()
    client.force_login(projects.ensure_member(project=project, username="bench"))
    return client


BRANCH_VERSIONS = 10


def _line(project, model, dataset, metrics, branch, labels, start, offset):
    """Versions, runs and series of one branch; its versions six hours apart from the
    ``offset``-th six hours after ``start``."""
    from evaluations.models import EvaluationRun, ModelVersion, Series

    rows = ModelVersion.objects.bulk_create(
        ModelVersion(model=model, label=label, commit=f"{branch.pk:08x}{v:032x}",
                     first_seen_at=start + timedelta(hours=6 * (offset + v)))
        for v, label in enumerate(labels)
    )  # fmt: skip
    runs = EvaluationRun.objects.bulk_create(
        EvaluationRun(project=project, model_version=version, dataset=dataset, payload_digest="",
                      commit=version.commit, recorded_at=version.first_seen_at,
                      branch=branch.name, base_branch="main")
        for version in rows
    )  # fmt: skip
    series = Series.objects.bulk_create(
        Series(model=model, dataset=dataset, metric=metric, slice=name, touched_at=start,
               branch=branch, watched=branch.name == "main")
        for metric in metrics for name in SLICES
    )  # fmt: skip
    return rows, runs, series


def _write_results(buffer, series, runs, metrics, rng):
    from evaluations.models.points import encode_point

    for row in series:
        definition = METRICS[[m.pk for m in metrics].index(row.metric_id)]
        values = np.round(0.9 + rng.normal(0, 0.004, len(runs)), 6)
        for run, value in zip(runs, values.tolist(), strict=True):
            n = 10_000 if definition[3] else None
            low, high = (None, None)
            if definition[2]:  # latency: with intervals
                low, high = round(value - 0.01, 6), round(value + 0.01, 6)
            point = encode_point(run.model_version.label, value, n, low, high, run.pk,
                                 run.recorded_at).decode()  # fmt: skip
            numbers = "\t".join(r"\N" if x is None else repr(x) for x in (value, n, low, high))
            buffer.write(f"{run.pk}\t{row.pk}\t{run.model_version_id}\t{numbers}\t"
                         f"{run.recorded_at.isoformat()}\t{point}\n")  # fmt: skip


def measure(client, path, label, rounds, requests):
    from django.db import connection

    response = client.get(path)  # warm-up: caches, template loading
    if response.status_code != 200:
        raise SystemExit(f"{path} answered {response.status_code}")
    html = response.content
    match = re.search(
        rb'<script id="chart-data" type="application/json">(.*?)</script>', html, re.S
    )
    payload = match.group(1)
    executed = []
    with connection.execute_wrapper(lambda execute, *a: executed.append(1) or execute(*a)):
        client.get(path)
    p50s, p95s = [], []
    for _ in range(rounds):
        times = []
        for _ in range(requests):
            started = time.perf_counter()
            client.get(path)
            times.append((time.perf_counter() - started) * 1000)
        p50s.append(statistics.median(times))
        p95s.append(np.percentile(times, 95))
    print(f"\nmodel page, {label}: {path}")
    print(f"  render p50 {statistics.median(p50s):.0f} ms, p95 {statistics.median(p95s):.0f} ms "
          f"(median of {rounds} rounds of {requests}; p95 range {min(p95s):.0f}-{max(p95s):.0f}) "
          f"target p95 < 300 ms")  # fmt: skip
    print(f"  SQL queries per page: {len(executed)}")
    print(f"  chart data {len(payload) / 1e6:.2f} MB ({len(gzip.compress(payload)) / 1e6:.2f} MB "
          f"gzipped); whole page {len(html) / 1e6:.2f} MB; target < 2 MB")  # fmt: skip
    return {"p50": statistics.median(p50s), "p95": statistics.median(p95s),
            "queries": len(executed)}  # fmt: skip


if __name__ == "__main__":
    main()
