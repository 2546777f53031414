"""Benchmark of a long history: do the service's reads, pages, posts and analysis stay as fast
over 10 million results as over an empty database?

``--generate`` writes the history into a database of its own (``<BENCH_DATABASE>_big``, kept
until ``--drop``; see history_data.py and history_copy.py): a few hundred models of a dozen
teams over four years, 10 million results with their points' JSON, written with COPY in the
order CI would have posted them; among them the probes' own models and a batch of 2,000 series
for the sweep. It prints the time it took and the database's size.

``--probe`` makes a second database with the probes' data alone (``<BENCH_DATABASE>_empty``,
freshly migrated, dropped after) and runs every probe on both, alternately, ``--rounds`` times:

- a read of the 5,000-point series through the API, on the production stack (gunicorn, Redis
  cache, a Celery worker): benchmarks/api.py's series reads; cold p95 < 30 ms;
- the model page of the 1,000-version model (20 metrics x 3 slices), rendered in-process:
  benchmarks/pages.py's measure; p95 < 300 ms;
- a CI post of 20 metrics, 4 clients, on the production stack: benchmarks/api.py's single
  post; p95 < 50 ms (its figure depends on the ingestion code of the day);
- the analysis of the batch of 2,000 series by a Celery worker: benchmarks/sweep.py's measure.

It prints each probe's medians on both and their ratio; each must be within 1.5x of the empty
database's. What the probes write into the big database is deleted after each round.
``--plans`` prints the tables' and indexes' sizes (with each btree's depth) and the plans of the
probes' main queries (EXPLAIN ANALYZE, BUFFERS, through auto_explain) on both databases.

    .venv/bin/python -m benchmarks.history --generate [--results 10000000]
    .venv/bin/python -m benchmarks.history --probe [--rounds 3] [--workers 1]
    .venv/bin/python -m benchmarks.history --plans
    .venv/bin/python -m benchmarks.history --drop
"""

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from . import history_partitions, history_plans
from .stack import BENCH_DB, ROOT, BenchError, broker_queue, database, manage, query, sql

BIG, EMPTY = f"{BENCH_DB}_big", f"{BENCH_DB}_empty"
RATIO = 1.5
# (figure, what it measures, target, whether higher is better)
PROBES = (
    ("series_cold_p95", "series read, 5,000 points, nothing cached: p95 ms", 30, False),
    ("series_warm_p95", "series read, cached: p95 ms", 30, False),
    ("series_after_post_p95", "series read after a post: p95 ms", 30, False),
    ("series_after_backfill_p95", "series read after a backfill: p95 ms", 30, False),
    ("page_p95", "model page, 1,000 versions, one slice: p95 ms", 300, False),
    ("page_sql_ms", "model page: time in SQL per page, median ms", None, False),
    ("post_p95", "CI post of 20 metrics, 4 clients: p95 ms", 50, False),
    ("post_db_cpu", "CI post: PostgreSQL CPU per post, ms", None, False),
    ("sweep_rate", "analysis of 2,000 series, 1 worker: series/s", None, True),
)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generate", action="store_true")
    parser.add_argument("--probe", action="store_true")
    parser.add_argument("--plans", action="store_true")
    parser.add_argument("--partitioning", action="store_true")
    parser.add_argument("--drop", action="store_true")
    parser.add_argument("--results", type=int, default=10_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1, help="for the sweep probe")
    parser.add_argument(
        "--random-page-cost", type=float,
        help="the planner's random_page_cost on both databases while probing (the server's "
        "own otherwise, 4 by default; 1.1 suits a database held in memory or on SSD)",
    )  # fmt: skip
    parser.add_argument("--step", help=argparse.SUPPRESS)  # in a process of its own
    parser.add_argument("--database", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.step:
        return run_step(args)
    if not (args.generate or args.probe or args.plans or args.partitioning or args.drop):
        parser.error("say what to do: --generate, --probe, --plans, --partitioning, --drop")
    if args.generate:
        generate(args.results)
    if args.probe or args.plans:
        if not exists(BIG):
            raise BenchError(f"{BIG} does not exist: run --generate first.")
        with database(EMPTY), static_files(), planner_costs(args.random_page_cost):
            load(EMPTY, 0)
            if args.probe:
                probe(args.rounds, args.workers)
            if args.plans:
                for dbname in (EMPTY, BIG):
                    step("plans", dbname)
    if args.partitioning:
        history_partitions.compare(BIG)
    if args.drop:
        sql(f"DROP DATABASE IF EXISTS {BIG} WITH (FORCE)")
        print(f"Dropped database {BIG}.")
    return 0


@contextmanager
def static_files():
    """The static files collected once, for the pages the steps render (DEBUG off serves
    them from a manifest)."""
    with tempfile.TemporaryDirectory(prefix="bench-static-") as root:
        os.environ["STATIC_ROOT"] = root  # the steps' processes inherit it
        manage("collectstatic", "--noinput", env=step_env(EMPTY, "load"))
        yield


@contextmanager
def planner_costs(random_page_cost):
    """Both databases' random_page_cost set for their sessions, if given; reset after."""
    if random_page_cost is None:
        yield
        return
    for dbname in (EMPTY, BIG):
        sql(f"ALTER DATABASE {dbname} SET random_page_cost = {float(random_page_cost)}")
    try:
        yield
    finally:
        sql(f"ALTER DATABASE {BIG} RESET random_page_cost")


def exists(dbname):
    return bool(query("SELECT 1 FROM pg_database WHERE datname = %s", [dbname]))


def generate(results):
    sql(f"DROP DATABASE IF EXISTS {BIG} WITH (FORCE)")
    sql(f"CREATE DATABASE {BIG}")
    began = time.perf_counter()
    load(BIG, results)
    ((size,),) = query("SELECT pg_size_pretty(pg_database_size(%s))", [BIG])
    print(f"Generated {BIG} in {time.perf_counter() - began:.0f} s: {size} on disk.")


def load(dbname, results):
    """Migrate ``dbname`` and write the history into it (the probes' data alone when
    ``results`` is 0)."""
    began = time.perf_counter()
    manage("migrate", "--noinput", env=step_env(dbname, "load"))
    print(f"[{dbname}] migrated in {time.perf_counter() - began:.0f} s")
    step("load", dbname, "--results", str(results))


def probe(rounds, workers):
    figures = {EMPTY: [], BIG: []}
    for index in range(rounds):
        # Alternately first: the machine's speed drifts, and each database gets both turns.
        for dbname in (EMPTY, BIG) if index % 2 == 0 else (BIG, EMPTY):
            print(f"\n=== round {index + 1}/{rounds}: {dbname} ===", flush=True)
            figures[dbname].append(step("probe", dbname, "--workers", str(workers)))
    print_table(figures)


def print_table(figures):
    load_averages = [f["load_average"] for runs in figures.values() for f in runs]
    print(f"\nSummary: medians (and ranges) of {len(figures[BIG])} runs on each database; load "
          f"averages (1, 5, 15 min) from {min(load_averages)} to {max(load_averages)}")  # fmt: skip
    print(f"{'probe':<52} {'empty':>20} {'history':>20} {'ratio':>6} {'flat':>5} {'target':>8}")
    for key, label, target, higher in PROBES:
        empty = [f[key] for f in figures[EMPTY] if key in f]
        big = [f[key] for f in figures[BIG] if key in f]
        if not empty or not big:
            continue
        ratio = statistics.median(big) / statistics.median(empty)
        ratio = 1 / ratio if higher else ratio  # how many times slower
        flat = "yes" if ratio <= RATIO else "NO"
        meets = "" if target is None else (
            f"{'PASS' if statistics.median(big) < target else 'MISS'} <{target}"
        )  # fmt: skip
        print(f"{label:<52} {spread(empty):>20} {spread(big):>20} {ratio:5.2f}x {flat:>5} "
              f"{meets:>8}")  # fmt: skip
    print(f"ratio: how many times slower over the history than over the probes' data alone; "
          f"flat: within {RATIO}x")  # fmt: skip


def spread(values):
    return f"{statistics.median(values):.1f} ({min(values):.1f}-{max(values):.1f})"


def step(name, dbname, *extra):
    """Run one step in a process of its own (Django is set up for one database per process);
    answers the figures it wrote."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        command = [sys.executable, "-m", "benchmarks.history", "--step", name,
                   "--database", dbname, "--out", out.name, *extra]  # fmt: skip
        result = subprocess.run(command, cwd=ROOT, timeout=6 * 3600)
        if result.returncode != 0:
            raise BenchError(f"the {name} step on {dbname} failed ({result.returncode})")
        text = Path(out.name).read_text()
        return json.loads(text) if text else {}


def step_env(dbname, name, queue=""):
    from .sweep import sweep_env

    return {
        **sweep_env(queue or f"bench-{secrets.token_hex(4)}", dbname),
        "ALLOWED_HOSTS": "testserver,127.0.0.1",
        # The plans are read with a cache of this process' own, which it may empty.
        **({"CACHE_URL": ""} if name == "plans" else {}),
        "DATABASE_CONN_MAX_AGE": "600",
    }


def run_step(args):
    queue = f"bench-{secrets.token_hex(4)}"
    env = step_env(args.database, args.step, queue)
    os.environ.update(env)
    import django

    django.setup()
    from . import history_probes

    steps = {
        "load": lambda: history_probes.load(args.database, args.results),
        "probe": lambda: history_probes.probe(args.database, env, args.workers),
        "plans": lambda: history_plans.report(args.database),
    }
    with broker_queue(queue):
        figures = steps[args.step]()
    Path(args.out).write_text(json.dumps(figures or {}))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
