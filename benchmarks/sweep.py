"""Benchmark of a full analysis sweep: 10,000 series of 200 points each, analysed by Celery
worker processes on PostgreSQL and Redis.

It fills a scratch database (``trackerapp_bench``) with 100 models x 10 metrics x 10 slices of
200 versions each (2,000,000 results with their points' JSON, written with COPY), 5% of the
series with a planted slow drift, marks every series due, runs the beat sweep (which queues
the series in jobs of 200), and times the workers until every series is analysed. It prints
series per second, the wall time, the workers' peak memory (resident set of the worker and its
pool processes), how many findings the planted and the flat series produced, and where the CPU
went meanwhile (sampled from /proc): the worker processes, the PostgreSQL sessions on the
scratch database, the Redis server (shared with whatever else uses it), this process, and the
rest of the machine. Target: under 60 s, memory under 1 GB.

``--workers N`` runs N worker processes as ``scripts/worker`` runs them: one Celery worker,
prefork, ``--concurrency N`` (``WORKER_CONCURRENCY``); ``--separate`` runs N Celery workers
of one process each instead, as ``docker compose up --scale worker=N`` with
``WORKER_CONCURRENCY=1`` would. A list (``--workers 1,2``) measures each count in turn on the
same histories, ``--repeat R`` times, and then fits how the throughput scales
(benchmarks/scaling.py). Then ``--profile-jobs K`` (default 5) runs K jobs again in this
process, the workers stopped, and splits a job's time into reading the series, analysing them
and writing the outcome, with the database session's CPU time for each.

    .venv/bin/python -m benchmarks.sweep [--series 10000] [--points 200] [--workers 1]
        [--separate] [--repeat 1] [--profile-jobs 5]
"""

import argparse
import io
import os
import secrets
import sys
import time
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta

import numpy as np

from . import scaling
from .sampling import Sampler, database_sessions, family, redis_server_pid
from .stack import (
    BENCH_DB,
    BenchError,
    broker_queue,
    celery_worker,
    cpu_seconds,
    database,
    manage,
    server_env,
)

METRICS, SLICES = 10, 10
DRIFT_SHARE = 0.05
TIMEOUT = 600


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--points", type=int, default=200)
    parser.add_argument(
        "--workers", default="1",
        help="worker processes; a list (1,2) measures each in turn, on the same histories",
    )  # fmt: skip
    parser.add_argument(
        "--separate", action="store_true",
        help="one Celery worker per process instead of one worker with a pool of N",
    )  # fmt: skip
    parser.add_argument("--repeat", type=int, default=1, help="measure each count this often")
    parser.add_argument("--profile-jobs", type=int, default=5)
    args = parser.parse_args(argv)
    counts = [int(count) for count in args.workers.split(",")]
    queue = f"bench-{secrets.token_hex(4)}"
    env = sweep_env(queue)
    with database(), broker_queue(queue):
        manage("migrate", "--noinput", env=env)
        os.environ.update(env)
        import django

        django.setup()
        started = time.perf_counter()
        series_ids, planted = load(args.series, args.points)
        print(f"loaded {args.series:,} series x {args.points} points "
              f"in {time.perf_counter() - started:.1f} s")  # fmt: skip
        runs = {count: [] for count in counts}
        for _ in range(args.repeat):  # the counts in turn, so that a drift hits each alike
            for count in counts:
                print(f"\n[load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}]")
                figures = measure(env, BENCH_DB, series_ids, count, args.separate)
                report(figures, planted, series_ids)
                runs[count].append(figures)
        if len(counts) > 1 or args.repeat > 1:
            scaling.report(runs, len(series_ids))
        if args.profile_jobs:
            print_split(profile_jobs(series_ids, args.profile_jobs))


def sweep_env(queue, dbname=BENCH_DB):
    return {
        **server_env(queue, dbname),
        "DJANGO_SETTINGS_MODULE": "trackerapp.settings",
        "SWEEP_GRACE_SECONDS": "0",
        "ANALYSIS_DELAY_SECONDS": "0",
        # Only the series marked due are swept, however long ago the others were analysed.
        "REANALYSE_AFTER_SECONDS": str(100 * 365 * 86400),
    }


def load(series_count, points, project_name="sweep", start=None):
    """The histories, written straight into the tables as ingestion writes them (results
    with their points' JSON), every series due; returns the series' ids and the planted
    ones'."""
    from django.db import connection

    from evaluations.models import (
        Branch,
        EvaluationDataset,
        EvaluationRun,
        MetricDefinition,
        ModelVersion,
        RegisteredModel,
        Series,
    )  # fmt: skip
    from evaluations.models.points import encode_point
    from evaluations.services import projects

    project, _ = projects.ensure_project(name=project_name)
    dataset = EvaluationDataset.objects.create(project=project, name="holdout", version="v1")
    metrics = MetricDefinition.objects.bulk_create(
        MetricDefinition(project=project, name=f"score_{m}", direction="higher_is_better")
        for m in range(METRICS)
    )
    models = RegisteredModel.objects.bulk_create(
        RegisteredModel(project=project, name=f"model-{i}")
        for i in range(series_count // (METRICS * SLICES))
    )
    branches = Branch.objects.bulk_create(Branch(model=model, name="main") for model in models)
    start = start or datetime(2024, 1, 1, tzinfo=UTC)
    versions = ModelVersion.objects.bulk_create(
        ModelVersion(model=model, label=f"1.{p}", first_seen_at=start + timedelta(days=p))
        for model in models for p in range(points)
    )  # fmt: skip
    runs = EvaluationRun.objects.bulk_create(
        EvaluationRun(project=project, model_version=version, dataset=dataset, payload_digest="",
                      recorded_at=version.first_seen_at, branch="main", base_branch="main")
        for version in versions
    )  # fmt: skip
    series = Series.objects.bulk_create(
        Series(model=model, dataset=dataset, metric=metric, slice=f"slice-{s}", branch=branch,
               dirty=True, touched_at=start)
        for model, branch in zip(models, branches, strict=True)
        for metric in metrics for s in range(SLICES)
    )  # fmt: skip
    rng = np.random.default_rng(7)
    planted = set(rng.choice([row.pk for row in series], int(len(series) * DRIFT_SHARE),
                             replace=False).tolist())  # fmt: skip
    runs_of = {model.pk: runs[i * points : (i + 1) * points] for i, model in enumerate(models)}
    buffer = io.StringIO()
    for row in series:
        values = np.round(0.9 + rng.normal(0, 0.004, points), 6)
        if row.pk in planted:  # 6 sigma over the last 30 versions
            values[-30:] = np.round(values[-30:] - np.linspace(0, 0.024, 30), 6)
        for run, value in zip(runs_of[row.model_id], values.tolist(), strict=True):
            point = encode_point(run.model_version.label, value, None, None, None, run.pk,
                                 run.recorded_at).decode()  # fmt: skip
            buffer.write(f"{run.pk}\t{row.pk}\t{run.model_version_id}\t{value!r}\t"
                         f"{run.recorded_at.isoformat()}\t{point}\n")  # fmt: skip
    buffer.seek(0)
    with connection.cursor() as cursor:
        cursor.copy_expert(
            "COPY evaluations_metricresult (run_id, series_id, model_version_id, value, "
            "recorded_at, point) FROM STDIN",
            buffer,
        )
        cursor.execute("ANALYZE")
    return [row.pk for row in series], planted


def mark_due(series_ids):
    """The series as a sweep first finds them: due, never queued nor analysed, no trend and
    no findings, so that every measurement of them does the same work."""
    from evaluations.models import Finding, Series

    Finding.objects.filter(series_id__in=series_ids).delete()
    Series.objects.filter(pk__in=series_ids).update(
        dirty=True, queued_at=None, analysed_at=None, trend=None, analysis_count=0
    )


@contextmanager
def worker_processes(env, workers, separate=False):
    """``workers`` worker processes on the benchmark's queue: one Celery worker with a pool
    of that many (as scripts/worker), or that many Celery workers of one each; yields the
    Celery workers' processes."""
    with ExitStack() as stack:
        if separate:
            yield [stack.enter_context(celery_worker(env, 1, name=f"bench{i}"))
                   for i in range(workers)]  # fmt: skip
        else:
            yield [stack.enter_context(celery_worker(env, workers))]


def measure(env, dbname, series_ids, workers, separate=False):
    """Mark the series due, start the workers, sweep and time them until every series is
    analysed; the figures of ``sweep``."""
    mark_due(series_ids)
    with worker_processes(env, workers, separate) as processes:
        figures = sweep(processes, dbname)
    figures.update(workers=workers, separate=separate, series=len(series_ids))
    return figures


def sweep(processes, dbname):
    from django.db import connection

    from evaluations.models import Series
    from evaluations.tasks import sweep_series

    wait_until_ready(len(processes))
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (own_session,) = cursor.fetchone()
    sessions = database_sessions(dbname, exclude={own_session})
    redis_pid = redis_server_pid()
    sampler = Sampler(
        {
            "workers": lambda: [pid for p in processes for pid in family(p.pid)],
            "PostgreSQL": sessions,
            "Redis": lambda: [redis_pid],
            "benchmark": lambda: [os.getpid(), own_session],
        },
        memory_of="workers",
    )
    sampler.start()
    try:
        sweep_series()
        deadline = time.perf_counter() + TIMEOUT
        while Series.objects.filter(dirty=True).exists():
            if time.perf_counter() > deadline:
                raise BenchError(f"the sweep did not finish within {TIMEOUT} s")
            for process in processes:
                if process.poll() is not None:
                    raise BenchError(f"a worker exited with {process.returncode}")
            time.sleep(0.2)
    finally:
        sampled = sampler.stop()
        sessions.close()
    return {**sampled, "peak_mb": sampler.peak_kb / 1024}


def wait_until_ready(workers, seconds=60):
    """Wait until ``workers`` Celery workers answer a ping: their pools are started and they
    consume, so that their start-up is not timed as analysis."""
    from trackerapp.celery import app

    deadline = time.perf_counter() + seconds
    while len(app.control.ping(timeout=0.5)) < workers:
        if time.perf_counter() > deadline:
            raise BenchError(f"{workers} Celery workers did not answer a ping in {seconds} s")


def report(figures, planted, series_ids):
    from evaluations.models import Finding

    count, seconds = len(series_ids), figures["seconds"]
    processes = figures["workers"]
    layout = f"{processes} Celery workers of 1 process" if figures["separate"] else (
        f"1 Celery worker of {processes} process{'es' if processes > 1 else ''}"
    )  # fmt: skip
    print(f"sweep of {count:,} series by {layout}: {seconds:.1f} s, "
          f"{count / seconds:,.0f} series/s (target: under 60 s)")  # fmt: skip
    print(f"workers' peak memory: {figures['peak_mb']:.0f} MB (target: under 1,024 MB)")
    found = Finding.objects.filter(series_id__in=series_ids).values_list("series_id", flat=True)
    found = set(found)
    flat = count - len(planted)
    print(f"findings: {len(found & planted)} of {len(planted)} planted drifts found; "
          f"{len(found - planted)} of {flat} flat series flagged")  # fmt: skip
    print_cpu(figures)
    met = seconds < 60 and figures["peak_mb"] < 1024
    print(f"verdict: {'PASS' if met else 'MISS'}")


def print_cpu(figures):
    """Where the CPU went during the sweep, per series and in cores busy on average."""
    seconds, count, cpu = figures["seconds"], figures["series"], figures["cpu"]
    others = figures["busy_cores"] * seconds - sum(cpu.values())
    parts = [*cpu.items(), ("rest of the machine", others)]
    print(f"CPU during the sweep ({os.cpu_count()} cores; {figures['busy_cores']:.2f} busy "
          f"on average):")  # fmt: skip
    for name, used in parts:
        print(f"  {name:<20} {used:6.1f} s  {1000 * used / count:6.3f} ms/series  "
              f"{used / seconds:4.2f} cores")  # fmt: skip
    # A worker process spends this long per series, waiting on the database included: N of
    # them keep PostgreSQL busy N * db / per_series cores' worth (if nothing else limits them).
    per_series = figures["workers"] * seconds / count
    db = cpu["PostgreSQL"] / count
    print(f"  one worker process takes {1000 * per_series:.2f} ms per series, of which "
          f"PostgreSQL's CPU {1000 * db:.3f} ms: PostgreSQL saturates a core at "
          f"{per_series / db:.1f} worker processes")  # fmt: skip


def profile_jobs(series_ids, jobs):
    """Run ``jobs`` analysis jobs in this process, as a worker runs them, and time each
    phase: reading the series (``selectors.analysis_inputs``), analysing them (the pure
    ``detect.analyse`` of each) and writing (false-discovery-rate control, findings, trends,
    the analysed marks); wall time, this process' CPU and its database session's CPU."""
    from django.db import connection

    from evaluations import queue, selectors
    from evaluations.services import series_analysis

    chunks = [series_ids[i : i + queue.ANALYSIS_CHUNK] for i in range(
        0, min(len(series_ids), jobs * queue.ANALYSIS_CHUNK), queue.ANALYSIS_CHUNK)]  # fmt: skip
    mark_due([pk for chunk in chunks for pk in chunk])
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (session,) = cursor.fetchone()
    clock = PhaseClock(session)
    read, analyse = selectors.analysis_inputs, series_analysis._analyse
    selectors.analysis_inputs = clock.timed("read", read)
    series_analysis._analyse = clock.timed("analyse", analyse)
    try:
        for chunk in chunks:
            clock.timed("job", series_analysis.analyse_series)(series_ids=chunk)
    finally:
        selectors.analysis_inputs, series_analysis._analyse = read, analyse
    job = clock.spent.pop("job")
    clock.spent["write"] = job - clock.spent["read"] - clock.spent["analyse"]
    return {"jobs": len(chunks), "series": sum(map(len, chunks)), "job": job, **clock.spent}


class PhaseClock:
    """Wall time, this process' CPU and a database session's CPU spent in wrapped calls."""

    def __init__(self, session):
        self.session = session
        self.spent = {}

    def now(self):
        return np.array([time.perf_counter(), time.process_time(),
                         cpu_seconds([self.session]).get(self.session, 0.0)])  # fmt: skip

    def timed(self, phase, function):
        def wrapper(*args, **kwargs):
            began = self.now()
            try:
                return function(*args, **kwargs)
            finally:
                total = self.spent.get(phase, np.zeros(3)) + self.now() - began
                self.spent[phase] = total

        return wrapper


def print_split(split):
    series = split["series"]
    print(f"one job's time by phase, per series ({split['jobs']} jobs of "
          f"{series // split['jobs']} series in this process): wall, app CPU, database CPU, "
          f"share of the wall")  # fmt: skip
    for phase in ("read", "analyse", "write", "job"):
        wall, app, db = (1000 * x / series for x in split[phase])
        share = split[phase][0] / split["job"][0]
        print(f"  {phase:<8} {wall:6.3f} ms  {app:6.3f} ms  {db:6.3f} ms  ({share:.0%})")


if __name__ == "__main__":
    try:
        main()
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
