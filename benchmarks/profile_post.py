"""Where the time of one big post goes: a run of 1,000 results (50 metrics x 20 slices) posted to
``POST /api/v1/runs/`` in-process (Django's test client, no network), profiled with cProfile and
with every SQL statement timed, after warm-up posts that create the model's series, with a
baseline pinned and three rules (as in ``benchmarks.api``'s suite: every result is checked).

It prints the post's wall time split into the phases of the request (parsing and validating the
body, storing the run and its results, judging the gate, rendering the answer), the SQL
statements' count and time, and the functions of the project that cost the most. It runs on a
scratch PostgreSQL database (``trackerapp_bench``, or ``BENCH_DATABASE``), created and dropped
here; analysis jobs go to a Redis queue of this run's own that nothing consumes, removed after.

    .venv/bin/python -m benchmarks.profile_post [--rounds 5] [--metrics 50] [--slices 20]
"""

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

from benchmarks import stack
from benchmarks.api import SUITE_RULES

PHASES = (
    ("parse the JSON", "rest_framework/request.py", "_parse"),
    ("validate the body", "rest_framework/serializers.py", "is_valid"),
    ("store the run and results", "evaluations/services/ingest.py", "ingest_runs"),
    ("judge the gate", "evaluations/services/gate.py", "judge_runs"),
    ("render the answer", "rest_framework/response.py", "rendered_content"),
)


def body(*, version, metrics, slices, rng_seed):
    at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=rng_seed)
    return {
        "model": "suite-model", "version": version, "finished_at": at.isoformat(),
        "dataset": {"name": "suite", "version": "v1"},
        "metrics": [
            {"name": f"metric_{m:02}", "value": 0.5 + 0.001 * ((m * 7 + s * 3 + rng_seed) % 97),
             "slice": "overall" if s == 0 else f"segment={s:02}", "n": 1000}
            for m in range(metrics) for s in range(slices)
        ],
    }  # fmt: skip


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--metrics", type=int, default=50)
    parser.add_argument("--slices", type=int, default=20)
    args = parser.parse_args(argv)
    queue = f"profile-{uuid.uuid4().hex[:8]}"
    os.environ.update({
        "DATABASE_URL": stack.DATABASE_URL, "DJANGO_SETTINGS_MODULE": "trackerapp.settings",
        "CELERY_BROKER_URL": f"redis://{stack.REDIS_HOST}:{stack.REDIS_PORT}/{stack.REDIS_DB}",
        "CELERY_TASK_DEFAULT_QUEUE": queue, "DEBUG": "0", "SECRET_KEY": "profile-" + queue,
        "ALLOWED_HOSTS": "testserver", "SECURE_SSL_REDIRECT": "0",
    })  # fmt: skip
    with stack.database(), stack.broker_queue(queue):
        stack.manage("migrate", "--noinput", env=os.environ)
        profile(args)


def profile(args):
    import django

    django.setup()
    from django.db import connection
    from rest_framework.test import APIClient

    from evaluations.services import projects

    project, _ = projects.ensure_project(name="profile")
    client = APIClient()
    token = projects.create_token(project=project, scope="admin")[1]  # pins and rules too
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    results = args.metrics * args.slices
    sql = {"count": 0, "seconds": 0.0, "statements": []}

    def timed(execute, statement, params, many, context):
        started = time.perf_counter()
        try:
            return execute(statement, params, many, context)
        finally:
            seconds = time.perf_counter() - started
            sql["count"] += 1
            sql["seconds"] += seconds
            sql["statements"].append((seconds, " ".join(statement.split())[:110]))

    def post(index):
        payload = body(version=f"1.{index}", metrics=args.metrics, slices=args.slices,
                       rng_seed=index)  # fmt: skip
        response = client.post("/api/v1/runs/", payload, format="json")
        if response.status_code != 201:
            raise stack.BenchError(f"{response.status_code}: {response.content[:300]!r}")

    for index in range(3):  # warm-up: the model, its series and caches exist
        post(index)
    # As in benchmarks.api's suite: a pinned baseline, so every result is checked against it,
    # and a few rules.
    pinned = client.put("/api/v1/models/suite-model/baseline/",
                        {"dataset": "suite", "version": "1.0"}, format="json")  # fmt: skip
    rules = [client.post("/api/v1/models/suite-model/thresholds/", rule, format="json")
             for rule in SUITE_RULES]  # fmt: skip
    for response in [pinned, *rules]:
        if response.status_code >= 300:
            raise stack.BenchError(f"{response.status_code}: {response.content[:300]!r}")
    post(3)
    walls, sql_counts, sql_seconds, phases, profiles, statements = [], [], [], [], [], []
    for index in range(4, 4 + args.rounds):
        sql.update(count=0, seconds=0.0, statements=[])
        profiler = cProfile.Profile()
        with connection.execute_wrapper(timed):
            started = time.perf_counter()
            profiler.enable()
            post(index)
            profiler.disable()
            walls.append(time.perf_counter() - started)
        sql_counts.append(sql["count"])
        sql_seconds.append(sql["seconds"])
        statements.append(sql["statements"])
        stats = pstats.Stats(profiler)
        phases.append({name: _cumulative(stats, path, function) for name, path, function in PHASES})
        profiles.append(stats)
    plain, cpu = [], []
    for index in range(4 + args.rounds, 4 + 2 * args.rounds):  # the same posts, not profiled
        started, started_cpu = time.perf_counter(), time.process_time()
        post(index)
        plain.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    middle = sorted(range(args.rounds), key=walls.__getitem__)[args.rounds // 2]
    report(args, results, walls, sql_counts, sql_seconds, phases, profiles[middle])
    wall = statistics.median(plain)
    print(f"\nNot profiled, median of {args.rounds} more posts: {wall * 1000:.1f} ms "
          f"({results / wall:,.0f} results/s), of which this process' CPU "
          f"{statistics.median(cpu) * 1000:.1f} ms")  # fmt: skip
    print("\nThe SQL statements of the median round (COPY goes around Django's cursor: not here):")
    for seconds, statement in statements[middle]:
        print(f"  {seconds * 1000:7.1f} ms  {statement}")


def _cumulative(stats, path, function):
    return sum(
        row[3]
        for (filename, _, name), row in stats.stats.items()
        if name == function and filename.endswith(path)
    )


def report(args, results, walls, sql_counts, sql_seconds, phases, stats):
    wall = statistics.median(walls)
    print(f"One post of {results:,} results ({args.metrics} metrics x {args.slices} slices), "
          f"median of {args.rounds} rounds, profiled (cProfile slows Python ~1.5-2x):")  # fmt: skip
    print(f"  wall {wall * 1000:8.1f} ms   ({results / wall:,.0f} results/s)")
    for name, *_ in PHASES:
        seconds = statistics.median(p[name] for p in phases)
        print(f"  {name:<28} {seconds * 1000:8.1f} ms  {seconds / wall:5.0%}")
    seconds = statistics.median(sql_seconds)
    print(f"  SQL: {statistics.median(sql_counts):.0f} statements, {seconds * 1000:.1f} ms "
          f"({seconds / wall:.0%} of the wall time, inside the phases above)")  # fmt: skip
    print("\nThe project's functions by own time (the median round):")
    rows = [
        (row[2], row[3], row[1], f"{filename.split('/work/')[-1]}:{line} {name}")
        for (filename, line, name), row in stats.stats.items()
        if "/evaluations/" in filename
        or "/trackerapp/" in filename
        or "/trackerclient/" in filename
    ]
    for own, cumulative, calls, where in sorted(rows, reverse=True)[:15]:
        print(f"  own {own * 1000:7.1f} ms  cum {cumulative * 1000:7.1f} ms  {calls:6} calls  "
              f"{where}")  # fmt: skip
    print("\nThe project's functions by cumulative time (the median round):")
    by_cumulative = sorted(rows, key=lambda row: row[1], reverse=True)
    for own, cumulative, calls, where in by_cumulative[:25]:
        print(f"  cum {cumulative * 1000:7.1f} ms  own {own * 1000:7.1f} ms  {calls:6} calls  "
              f"{where}")  # fmt: skip
    print("\nEvery function by own time (the median round):")
    stats.sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    try:
        main()
    except stack.BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
