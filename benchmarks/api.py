"""Benchmark of the HTTP API on the production path: gunicorn, PostgreSQL and a Redis broker.

It creates a scratch database (``trackerapp_bench``), migrates it, makes a project token,
starts gunicorn with 3 workers on a free local port and measures, over several rounds after a
warm-up (medians across rounds, never a single run):

- single post: ``POST /api/v1/runs/``, one run of 20 metrics per post, 4 concurrent clients;
  p50/p95 latency and throughput. Target: p95 < 50 ms. Also the server's CPU time per post
  (gunicorn's workers, the database's sessions), which a busy shared machine sways far less
  than latency.
- bulk: 100,000 metric results (5,000 runs x 20 metrics) through ``POST /api/v1/runs/batch/``
  in batches of 500 runs, 2 concurrent clients, each round into a new model. Target: < 30 s.
- series read: ``GET /api/v1/models/<name>/series/`` of one 5,000-point series, one client:
  repeated (cached), right after a post (its point appended to the cached history), right
  after a backfill (a point before the others: the whole history read again, while the worker
  analyses the series) and cold (the cache emptied first: the whole history read from the
  database); p50/p95 latency. Target: p95 < 30 ms.
- runs list: ``GET /api/v1/runs/?model=<name>&page_size=100``, a page of 100 runs of 60
  results each (intervals, sample sizes, class counts, units, metadata) out of 120, 4
  concurrent clients each reading a model of its own: warm (read again and again) and cold
  (the server's cache emptied before each read); p50/p95 latency and the server's CPU time
  per read. Target: p95 < 150 ms.

A Celery worker consumes the analysis jobs that posts queue, on a Redis queue of this run's
own, as in production; it shares the machine's cores with the server. The queue, the worker,
the server and the database are removed at the end, also on Ctrl-C (``benchmarks/stack.py``).

    .venv/bin/python -m benchmarks.api [--quick] [--scenario single,bulk,suite,series,runs|all]
        [--branches 20]

``--branches N`` gives the single-post and series models N - 1 pull requests' branches beside
main first (10 runs each, with series of their own), as a team with open pull requests has.

The exit status is 0 when the figures were measured, whether or not they meet their targets
(they are for humans to read), and 1 on an error such as a non-2xx answer.
"""

import argparse
import dataclasses
import json
import os
import random
import signal
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import psycopg2

from . import peers
from .stack import BENCH_DB, WORKERS, BenchError, CpuMeter, query, running_stack, sql

POST_CLIENTS = 4
BULK_CLIENTS = 2
BULK_BATCH_RUNS = 500
LOAD_BATCH_RUNS = 1000
WARMUP_POSTS = 40
WARMUP_READS = 5
REQUEST_TIMEOUT = 120
SETTLE_SECONDS = 180
BRANCH_RUNS = 10  # runs per pull request's branch (--branches)

RUNS_PATH = "/api/v1/runs/"
BATCH_PATH = "/api/v1/runs/batch/"

# What a classifier's CI job posts: (metric, slice, sample size), 20 results per run.
METRICS = (
    ("accuracy", "overall", 10_000),
    ("balanced_accuracy", "overall", 10_000),
    ("precision", "overall", 10_000),
    ("recall", "overall", 10_000),
    ("f1", "overall", 10_000),
    ("auc_roc", "overall", 10_000),
    ("auc_pr", "overall", None),
    ("log_loss", "overall", None),
    ("latency_p50_ms", "overall", None),
    ("latency_p95_ms", "overall", None),
    ("latency_p99_ms", "overall", None),
    ("throughput_rps", "overall", None),
    ("accuracy", "mobile", 3_200),
    ("accuracy", "desktop", 6_800),
    ("f1", "mobile", 3_200),
    ("f1", "desktop", 6_800),
    ("precision", "new_users", 1_500),
    ("recall", "new_users", 1_500),
    ("auc_roc", "eu", 4_100),
    ("auc_roc", "us", 5_900),
)
RULES = (
    {"metric": "accuracy", "max_drop": 0.01, "significance": 0.05, "budget": 0.03},
    {"metric": "f1", "max_drop_pct": 2},
    {"metric": "latency_p95_ms", "max": 120},
)
SERIES_METRICS = (("accuracy", "overall", 10_000),)
# The runs list's runs: 15 metrics on 4 slices, 60 results per run.
LIST_SLICES = (("overall", 10_000), ("country=DE", 2_400), ("country=US", 5_100), ("mobile", 900))
LIST_METRICS = tuple(
    (name, slice_, n if i % 3 else None)
    for i, name in enumerate((
        "accuracy", "balanced_accuracy", "precision", "recall", "f1", "auc_roc", "auc_pr",
        "log_loss", "brier_score", "ece", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms",
        "throughput_rps", "coverage",
    ))
    for slice_, n in LIST_SLICES
)  # fmt: skip
LIST_RUNS = 120
LIST_PAGE_SIZE = 100


@dataclass(frozen=True)
class Sizes:
    rounds: int  # of the latency scenarios (single post, series read)
    posts_per_round: int
    bulk_runs: int
    bulk_rounds: int
    series_points: int
    reads_per_round: int
    suite_posts: int  # runs of 1,000 results per round
    list_reads_per_round: int
    branches: int = 1  # per model: main and branches - 1 pull requests
    peers: bool = True  # measure MLflow and PostgreSQL's own bulk paths beside us


FULL = Sizes(
    rounds=5,
    posts_per_round=200,
    bulk_runs=5_000,
    bulk_rounds=3,
    series_points=5_000,
    reads_per_round=30,
    suite_posts=80,
    list_reads_per_round=40,
)
QUICK = Sizes(
    rounds=1,
    posts_per_round=20,
    bulk_runs=500,
    bulk_rounds=1,
    series_points=500,
    reads_per_round=10,
    suite_posts=24,
    list_reads_per_round=8,
)


@dataclass(frozen=True)
class Figure:
    scenario: str
    name: str
    value: float
    unit: str
    target: float | None = None  # an upper bound; None for figures shown without one


# Statistics --------------------------------------------------------------------------------


def p50(values):
    return statistics.median(values)


def p95(values):
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


def ms(seconds):
    return seconds * 1000


# Requests ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes | None = None


class Api:
    """Clients of the server under test; each client is a thread with its own connection."""

    def __init__(self, base_url, token, meter, clear_cache, dbname=BENCH_DB):
        self.base_url, self.meter, self.clear_cache = base_url, meter, clear_cache
        self.dbname = dbname
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def send(self, per_client, check=None, prepare=None):
        """Send each client's requests in order, the clients concurrently (each calling
        ``prepare()``, untimed, before each request, when given). Returns every request's
        latency and the wall time, in seconds. The first error stops all clients."""
        stop_event = threading.Event()
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=len(per_client)) as pool:
            futures = [
                pool.submit(self._client, requests, check, prepare, stop_event)
                for requests in per_client
            ]
            try:
                latencies = [latency for future in futures for latency in future.result()]
            except BaseException:
                stop_event.set()
                raise
        return latencies, time.perf_counter() - start

    def _client(self, requests, check, prepare, stop_event):
        latencies = []
        with httpx.Client(
            base_url=self.base_url, headers=self.headers, timeout=REQUEST_TIMEOUT
        ) as client:
            for request in requests:
                if stop_event.is_set():
                    break
                try:
                    if prepare is not None:
                        prepare()
                    latencies.append(self.timed(client, request, check))
                except BaseException:
                    stop_event.set()
                    raise
        return latencies

    @staticmethod
    def timed(client, request, check):
        start = time.perf_counter()
        response = client.request(request.method, request.path, content=request.body)
        elapsed = time.perf_counter() - start
        if not response.is_success:
            raise BenchError(
                f"{request.method} {request.path} answered {response.status_code}:\n"
                f"{response.text[:4000]}"
            )
        if check is not None:
            check(response)
        return elapsed


def deal(items, hands):
    """``items`` dealt round-robin into ``hands`` lists."""
    return [items[hand::hands] for hand in range(hands)]


def chunks(items, size):
    return [items[start : start + size] for start in range(0, len(items), size)]


def run_body(*, model, version, rng, metrics=METRICS, finished_at=None, branch="main"):
    body = {
        "model": model,
        "version": version,
        "commit": f"{rng.getrandbits(160):040x}",
        "branch": branch,
        "dataset": {"name": "holdout", "version": "2024-06", "size": 10_000},
        "metadata": {"runner": "benchmarks.api"},
        "metrics": [metric_body(name, slice_, n, rng) for name, slice_, n in metrics],
    }
    if finished_at is not None:
        body["finished_at"] = finished_at.isoformat()
    return body


# Each metric hovers around a level from version to version, as a trained model's do:
# (level, spread) by kind of metric.
LEVELS = {"latency": (40.0, 0.8), "throughput_rps": (1000.0, 10.0), "log_loss": (0.3, 0.002)}
RATE_LEVEL, RATE_SPREAD = 0.9, 0.0015


def metric_body(name, slice_, n, rng):
    kind = "latency" if "latency" in name else name
    level, spread = LEVELS.get(kind, (RATE_LEVEL, RATE_SPREAD))
    value = rng.gauss(level, spread)
    metric = {"name": name, "slice": slice_, "value": round(value, 6)}
    if n is not None:
        metric["n"] = n
    if name == "accuracy" and slice_ == "overall":
        metric.update(ci_low=round(value - 0.006, 6), ci_high=round(value + 0.006, 6))
    return metric


def encode(body):
    return json.dumps(body).encode()


# Scenarios ---------------------------------------------------------------------------------


def print_latency_round(index, total, count, what, latencies, seconds):
    print(
        f"  round {index}/{total}: {count} {what} in {seconds:.2f} s "
        f"({count / seconds:.0f}/s)  p50 {ms(p50(latencies)):.1f} ms  "
        f"p95 {ms(p95(latencies)):.1f} ms"
    )


def single_post(api, sizes, model="bench-single"):
    print(f"Single post: {len(METRICS)} metrics per run, {POST_CLIENTS} concurrent clients")

    def posts(tag, count):
        rng = random.Random(tag)
        bodies = [
            encode(run_body(model=model, version=f"{tag}-{i}", rng=rng)) for i in range(count)
        ]
        return deal([Request("POST", RUNS_PATH, body) for body in bodies], POST_CLIENTS)

    api.send(posts("warmup", WARMUP_POSTS))
    add_branches(api, model, sizes)
    # As in a team's CI: a pinned baseline and a few rules, so each answer carries a verdict.
    api.send([[
        Request("PUT", f"/api/v1/models/{model}/baseline/",
                encode({"dataset": "holdout", "version": "warmup-0"})),
        *[Request("POST", f"/api/v1/models/{model}/thresholds/", encode(rule)) for rule in RULES],
    ]])  # fmt: skip
    rounds, cpu = [], []
    for index in range(1, sizes.rounds + 1):
        before = api.meter.read()
        latencies, seconds = api.send(posts(f"round{index}", sizes.posts_per_round))
        spent = CpuMeter.spent(before, api.meter.read())
        print_latency_round(index, sizes.rounds, len(latencies), "posts", latencies, seconds)
        rounds.append((p50(latencies), p95(latencies), len(latencies) / seconds))
        if spent is not None:
            cpu.append({part: value / len(latencies) for part, value in spent.items()})
            print(f"    server CPU per post: {ms(cpu[-1]['app']):.1f} ms gunicorn, "
                  f"{ms(cpu[-1]['db']):.1f} ms PostgreSQL")  # fmt: skip
    figures = [
        Figure("single post", "p50 latency", ms(p50([r[0] for r in rounds])), "ms"),
        Figure("single post", "p95 latency", ms(p50([r[1] for r in rounds])), "ms", 50),
        Figure("single post", "throughput", p50([r[2] for r in rounds]), "posts/s"),
    ]
    if cpu:
        figures += [
            Figure("single post", "gunicorn CPU per post", ms(p50([c["app"] for c in cpu])), "ms"),
            Figure("single post", "PostgreSQL CPU per post", ms(p50([c["db"] for c in cpu])), "ms"),
        ]  # fmt: skip
    return figures


def add_branches(api, model, sizes, metrics=METRICS):
    """``sizes.branches - 1`` pull requests' branches beside main, each with
    ``BRANCH_RUNS`` runs of every metric: the model's series and runs as a team with open
    pull requests has them (the measured posts and reads stay on main)."""
    if sizes.branches <= 1:
        return
    requests = [
        request
        for k in range(1, sizes.branches)
        for request in batches(model, f"pr{k}", BRANCH_RUNS, BRANCH_RUNS, metrics,
                               branch=f"feature/pr-{k}")
    ]  # fmt: skip
    api.send(deal(requests, POST_CLIENTS))
    print(f"  {sizes.branches - 1} branches beside main, {BRANCH_RUNS} runs each")


def batches(model, tag, runs, batch_runs, metrics=METRICS, start=None, branch="main"):
    """Batch requests for ``runs`` runs of ``model``, one version each; with ``start``, their
    finished_at times rise an hour apart from it."""
    rng = random.Random(tag)
    bodies = [
        run_body(
            model=model,
            version=f"{tag}-{i}",
            rng=rng,
            metrics=metrics,
            finished_at=None if start is None else start + timedelta(hours=i),
            branch=branch,
        )
        for i in range(runs)
    ]
    return [
        Request("POST", BATCH_PATH, encode({"runs": part})) for part in chunks(bodies, batch_runs)
    ]


def bulk(api, sizes):
    results = sizes.bulk_runs * len(METRICS)
    print(
        f"Bulk: {results:,} results ({sizes.bulk_runs:,} runs x {len(METRICS)} metrics), "
        f"batches of {BULK_BATCH_RUNS} runs, {BULK_CLIENTS} concurrent clients"
    )
    api.send([batches("bench-bulk-warmup", "warmup", 50, 50)])
    rounds = []
    for index in range(1, sizes.bulk_rounds + 1):
        requests = batches(f"bench-bulk-{index}", f"round{index}", sizes.bulk_runs, BULK_BATCH_RUNS)
        _, seconds = api.send(deal(requests, BULK_CLIENTS))
        print(
            f"  round {index}/{sizes.bulk_rounds}: {seconds:.1f} s "
            f"({results / seconds:,.0f} results/s)"
        )
        rounds.append(seconds)
    seconds = p50(rounds)
    figures = [
        Figure("bulk", f"time for {results:,} results", seconds, "s", 30),
        Figure("bulk", "throughput", results / seconds, "results/s"),
    ]
    if not sizes.peers:
        return figures
    rates = peers.database_rates(peer_rows(sizes.bulk_runs))
    print("  PostgreSQL's own, the same rows into a copy of the results table, one client: "
          + ", ".join(f"{name} {rate:,.0f} rows/s" for name, rate in rates.items()))  # fmt: skip
    return [
        *figures,
        Figure("bulk", "execute_values", rates["execute_values"], "rows/s"),
        Figure("bulk", "COPY", rates["COPY"], "rows/s"),
        Figure("bulk", "ours / execute_values", results / seconds / rates["execute_values"], "x"),
    ]


# An evaluation suite: 50 metrics x 20 slices, one run of 1,000 results per post.
SUITE_METRICS = tuple(
    (f"metric_{m:02}", "overall" if s == 0 else f"segment_{s:02}", 5_000)
    for m in range(50)
    for s in range(20)
)
SUITE_RULES = (
    {"metric": "metric_00", "max_drop": 0.01, "significance": 0.05},
    {"metric": "metric_01", "max_drop_pct": 2},
    {"metric": "metric_02", "min": 0.5},
)


def suite(api, sizes):
    """Runs of 1,000 results through ``POST /api/v1/runs/``, 4 clients, gated against a pinned
    baseline; MLflow's create-run + log-batch + end-run of the same 1,000 values, 4 clients, in
    alternate rounds of the same run."""
    results = len(SUITE_METRICS)
    print(f"Suite: runs of {results:,} results (50 metrics x 20 slices), {POST_CLIENTS} "
          f"concurrent clients, against MLflow's log-batch in alternate rounds")  # fmt: skip
    model = "bench-suite"

    def posts(tag, count):
        rng = random.Random(tag)
        bodies = [
            encode(run_body(model=model, version=f"{tag}-{i}", rng=rng, metrics=SUITE_METRICS))
            for i in range(count)
        ]
        return deal([Request("POST", RUNS_PATH, body) for body in bodies], POST_CLIENTS)

    def mlflow_runs(tag, count):
        rng = random.Random(tag)
        runs = [
            [(f"{name}.{slice_}", metric_body(name, slice_, n, rng)["value"])
             for name, slice_, n in SUITE_METRICS]
            for _ in range(count)
        ]  # fmt: skip
        return deal(runs, POST_CLIENTS)

    api.send(posts("warmup", 8))
    api.send([[
        Request("PUT", f"/api/v1/models/{model}/baseline/",
                encode({"dataset": "holdout", "version": "warmup-0"})),
        *[Request("POST", f"/api/v1/models/{model}/thresholds/", encode(rule))
          for rule in SUITE_RULES],
    ]])  # fmt: skip
    count = sizes.suite_posts
    ours, theirs, cpu = [], [], []
    with peers.mlflow_server() if sizes.peers else nullcontext() as mlflow_url:
        mlflow = peers.MlflowClients(mlflow_url) if mlflow_url else None
        if mlflow:
            mlflow.send(mlflow_runs("warmup", 8))
        for index in range(1, sizes.rounds + 1):
            before = api.meter.read()
            latencies, seconds = api.send(posts(f"round{index}", count))
            spent = CpuMeter.spent(before, api.meter.read())
            ours.append((p50(latencies), p95(latencies), count * results / seconds))
            print_latency_round(index, sizes.rounds, count, "posts", latencies, seconds)
            if spent is not None:
                cpu.append({part: value / count for part, value in spent.items()})
                print(f"    server CPU per post: {ms(cpu[-1]['app']):.1f} ms gunicorn, "
                      f"{ms(cpu[-1]['db']):.1f} ms PostgreSQL, "
                      f"{ms(cpu[-1].get('autovacuum', 0)):.1f} ms its autovacuum, "
                      f"{ms(cpu[-1].get('worker', 0)):.1f} ms Celery worker, "
                      f"{ms(cpu[-1].get('clients', 0)):.1f} ms the clients")  # fmt: skip
            if not mlflow:
                continue
            latencies, seconds = mlflow.send(mlflow_runs(f"round{index}", count))
            theirs.append((p50(latencies), p95(latencies), count * results / seconds))
            print("    MLflow: ", end="")
            print_latency_round(index, sizes.rounds, count, "runs", latencies, seconds)
    rate = p50([r[2] for r in ours])
    figures = [
        Figure("suite", "p50 latency", ms(p50([r[0] for r in ours])), "ms"),
        Figure("suite", "p95 latency", ms(p50([r[1] for r in ours])), "ms", 250),
        Figure("suite", "throughput", rate, "results/s"),
        *[
            Figure("suite", f"{name} CPU per post", ms(p50([c[part] for c in cpu])), "ms")
            for part, name in (("app", "gunicorn"), ("db", "PostgreSQL"))
            if cpu
        ],
    ]
    if theirs:
        their_rate = p50([r[2] for r in theirs])
        figures += [
            Figure("suite", "MLflow p95 latency", ms(p50([r[1] for r in theirs])), "ms"),
            Figure("suite", "MLflow throughput", their_rate, "results/s"),
            Figure("suite", "ours / MLflow", rate / their_rate, "x"),
        ]
    return figures


def peer_rows(runs, metrics=METRICS):
    """The results rows of ``runs`` runs, shaped as ingestion writes them (a point's JSON
    beside each), for PostgreSQL's own bulk paths."""
    rng, at = random.Random("peers"), datetime(2026, 1, 1, tzinfo=UTC)
    rows = []
    for run in range(1, runs + 1):
        for series, (name, slice_, n) in enumerate(metrics, start=1):
            value = metric_body(name, slice_, n, rng)["value"]
            point = json.dumps(
                {
                    "version": f"v{run}",
                    "value": value,
                    "n": n,
                    "ci_low": None,
                    "ci_high": None,
                    "run_id": run,
                    "at": "2026-01-01T00:00:00Z",
                }
            )
            rows.append((run, series, run, value, n, None, None, None, None, None, at, point))
    return rows


def series_read(api, sizes):
    """Four kinds of read of one series (``series_reads``), loaded first through the batch
    endpoint: one run of one metric per point, an hour apart."""
    points = sizes.series_points
    print(f"Series read: one series of {points:,} points, 1 client")
    model = "bench-series"
    start = datetime(2024, 1, 1, tzinfo=UTC)
    api.send([batches(model, "s", points, LOAD_BATCH_RUNS, SERIES_METRICS, start)])
    # Autovacuum would refresh the planner's statistics within a minute of such a load; doing
    # it now gives every round the same (steady-state) plan.
    add_branches(api, model, sizes, SERIES_METRICS)
    sql("ANALYZE", dbname=api.dbname)
    print(f"  loaded {points:,} points, then ANALYZE")
    return series_reads(api, sizes, model, points, start, start + timedelta(hours=points - 1))


def series_reads(api, sizes, model, points, first, last):
    """Four kinds of read of the accuracy series of ``model`` (``points`` points from
    ``first`` to ``last``): warm (repeated: the server answers from its cache), after a post
    (the new point appended to the cached history), after a backfill (a point posted before
    the series' start: the cached history no longer holds and the whole series is read again,
    while the worker analyses it) and cold (the cache emptied before each read, as on a first
    read or one after an hour unread)."""
    path = f"/api/v1/models/{model}/series/?metric=accuracy&dataset=holdout"

    def check(response):
        got = len(response.json()["points"])
        if got < points:
            raise BenchError(f"GET {path} answered {got} points, not {points} or more.")

    api.send([[Request("GET", path)] * WARMUP_READS], check)
    count = sizes.reads_per_round
    kinds = (
        ("warm", lambda index: api.send([[Request("GET", path)] * count], check)),
        (
            "after-post",
            lambda index: reads_after_posts(
                api, model, path, check, f"after-post-{index}",
                [last + timedelta(hours=1 + index * count + i) for i in range(count)],
            ),
        ),
        (
            "after-backfill",
            lambda index: reads_after_posts(
                api, model, path, check, f"after-backfill-{index}",
                [first - timedelta(hours=1 + index * count + i) for i in range(count)],
            ),
        ),
        ("cold", lambda index: cold_reads(api, path, check, count)),
    )  # fmt: skip
    figures = []
    for kind, read in kinds:
        measured = []
        for index in range(1, sizes.rounds + 1):
            latencies, seconds = read(index)
            print_latency_round(
                index, sizes.rounds, len(latencies), f"{kind} reads", latencies, seconds
            )
            measured.append((p50(latencies), p95(latencies)))
        figures += [
            Figure("series read", f"{kind} p50 latency", ms(p50([r[0] for r in measured])), "ms"),
            Figure(
                "series read", f"{kind} p95 latency", ms(p50([r[1] for r in measured])), "ms", 30
            ),
        ]
    return figures


def reads_after_posts(api, model, path, check, tag, times):
    """For each time: post a run that adds a point there to the series, then time one read."""
    rng = random.Random(tag)
    latencies = []
    began = time.perf_counter()
    with httpx.Client(base_url=api.base_url, headers=api.headers, timeout=REQUEST_TIMEOUT) as c:
        for i, finished_at in enumerate(times):
            body = run_body(
                model=model, version=f"{tag}-{i}", rng=rng,
                metrics=SERIES_METRICS, finished_at=finished_at,
            )  # fmt: skip
            api.timed(c, Request("POST", RUNS_PATH, encode(body)), None)
            latencies.append(api.timed(c, Request("GET", path), check))
    return latencies, time.perf_counter() - began


def cold_reads(api, path, check, count):
    """Time ``count`` reads, each after the server's cache was emptied."""
    latencies = []
    began = time.perf_counter()
    with httpx.Client(base_url=api.base_url, headers=api.headers, timeout=REQUEST_TIMEOUT) as c:
        for _ in range(count):
            api.clear_cache()
            latencies.append(api.timed(c, Request("GET", path), check))
    return latencies, time.perf_counter() - began


def runs_list(api, sizes):
    """A page of the runs list, 100 runs of 60 results each, read by 4 clients at once, each
    the page of a model of its own (what a dashboard or a script paging through a model's
    history asks for): warm, read again and again (the server caches each run's results),
    and cold, the server's cache emptied before each read (a page's first read)."""
    results = LIST_PAGE_SIZE * len(LIST_METRICS)
    print(
        f"Runs list: a page of {LIST_PAGE_SIZE} runs x {len(LIST_METRICS)} results "
        f"({results:,} results) of {LIST_RUNS}, {POST_CLIENTS} concurrent clients"
    )
    models = [f"bench-runs-{k}" for k in range(POST_CLIENTS)]
    start = datetime(2025, 1, 1, tzinfo=UTC)
    api.send([list_runs(model, start) for model in models])
    sql("ANALYZE", dbname=BENCH_DB)
    settle()
    paths = [f"{RUNS_PATH}?model={model}&page_size={LIST_PAGE_SIZE}" for model in models]

    def check_whole(response):
        page = response.json()
        counts = {len(run["metrics"]) for run in page["results"]}
        shape = (page["count"], len(page["results"]), counts)
        if shape != (LIST_RUNS, LIST_PAGE_SIZE, {len(LIST_METRICS)}):
            raise BenchError(f"A runs list answered {page['count']} runs, {counts} results each.")

    def check(response):
        # Parsing 1.1 MB would cost the client (which shares the cores) more than the server.
        if not response.content.startswith(b'{"count":%d,' % LIST_RUNS):
            raise BenchError(f"A runs list answered {response.content[:200]!r}.")

    api.send([[Request("GET", path)] * 2 for path in paths], check_whole)
    reads = sizes.list_reads_per_round // POST_CLIENTS
    figures = []
    for kind, prepare in (("warm", None), ("cold", api.clear_cache)):
        rounds, cpu = [], []
        for index in range(1, sizes.rounds + 1):
            before = api.meter.read()
            latencies, seconds = api.send(
                [[Request("GET", path)] * reads for path in paths], check, prepare
            )
            spent = CpuMeter.spent(before, api.meter.read())
            print_latency_round(
                index, sizes.rounds, len(latencies), f"{kind} reads", latencies, seconds
            )
            rounds.append((p50(latencies), p95(latencies)))
            if spent is not None:
                cpu.append({part: value / len(latencies) for part, value in spent.items()})
                print(f"    server CPU per read: {ms(cpu[-1]['app']):.1f} ms gunicorn, "
                      f"{ms(cpu[-1]['db']):.1f} ms PostgreSQL")  # fmt: skip
        figures += [
            Figure("runs list", f"{kind} p50 latency", ms(p50([r[0] for r in rounds])), "ms"),
            Figure("runs list", f"{kind} p95 latency", ms(p50([r[1] for r in rounds])), "ms", 150),
        ]
        if cpu:
            app, db = (ms(p50([c[part] for c in cpu])) for part in ("app", "db"))
            figures += [
                Figure("runs list", f"{kind} gunicorn CPU per read", app, "ms"),
                Figure("runs list", f"{kind} PostgreSQL CPU per read", db, "ms"),
            ]
    return figures


def list_runs(model, start):
    """The runs list's runs, an hour apart, each posted with the detail a run's answer
    shows: intervals, class counts, units, provenance and metadata."""
    rng = random.Random("runs-list")
    bodies = []
    for i in range(LIST_RUNS):
        body = run_body(
            model=model, version=f"2.{i}.0", rng=rng, metrics=LIST_METRICS,
            finished_at=start + timedelta(hours=i),
        )  # fmt: skip
        body.update(
            external_id=f"{model}-ci-{i}",
            seed=i,
            started_at=(start + timedelta(hours=i, minutes=-20)).isoformat(),
            metadata={"runner": "benchmarks.api", "ci_url": f"https://ci.example.com/{i}",
                      "gpu": "a100", "shards": [1, 2, 3], "wall_seconds": 1234.5 + i},
        )  # fmt: skip
        for metric in body["metrics"]:
            if metric["name"] == "auc_roc" and "n" in metric:
                metric.update(n_pos=metric["n"] // 10, n_neg=metric["n"] - metric["n"] // 10)
            if metric["name"] == "recall":
                metric.update(ci_low=metric["value"] - 0.01, ci_high=metric["value"] + 0.01)
            if "latency" in metric["name"]:
                metric["unit"] = "ms"
        bodies.append(body)
    return [Request("POST", BATCH_PATH, encode({"runs": bodies}))]


SCENARIOS = {
    "single": single_post,
    "bulk": bulk,
    "suite": suite,
    "series": series_read,
    "runs": runs_list,
}


# Main --------------------------------------------------------------------------------------


def measure(names, sizes):
    figures = []
    with running_stack() as stack:
        print(f"gunicorn ({WORKERS} workers) at {stack.base_url}, database {BENCH_DB}\n")
        meter = CpuMeter(stack.gunicorn_pid, worker_pid=stack.worker_pid)
        api = Api(stack.base_url, stack.token, meter, stack.clear_cache)
        for name in names:
            settle(BENCH_DB)
            print(f"[load average {load_average()}]")
            figures += SCENARIOS[name](api, sizes)
            print()
    return figures


def settle(dbname, limit=SETTLE_SECONDS):
    """Wait until the worker has analysed every series the last scenario touched (the bulk
    load leaves it a few seconds of work), so that each scenario starts on a quiet machine."""
    began = time.perf_counter()
    while time.perf_counter() - began < limit:
        ((pending,),) = query("SELECT count(*) FROM evaluations_series WHERE dirty", dbname=dbname)
        if not pending:
            waited = time.perf_counter() - began
            if waited >= 1:
                print(f"[waited {waited:.0f} s for the worker to analyse the series]")
            return
        time.sleep(0.5)
    print(f"[the worker still had {pending} series to analyse after {limit} s; going on]")


def load_average():
    return " ".join(f"{load:.2f}" for load in os.getloadavg())


def print_summary(figures, quick, load_before):
    print(f"\nSummary: gunicorn with {WORKERS} workers, PostgreSQL, Redis broker")
    print(f"Machine: {os.cpu_count()} cores; load average before the run {load_before}")
    print(f"{'scenario':<12} {'figure':<26} {'value':>18} {'target':>10}  verdict")
    for figure in figures:
        value = f"{figure.value:,.1f} {figure.unit}"
        target, verdict = "", ""
        if figure.target is not None:
            target = f"< {figure.target:g} {figure.unit}"
            verdict = "(quick)" if quick else ("PASS" if figure.value < figure.target else "MISS")
        print(f"{figure.scenario:<12} {figure.name:<26} {value:>18} {target:>10}  {verdict}")
    if quick:
        print("Quick run: smaller sizes than the targets assume, so no verdicts.")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument(
        "--branches", type=int, default=1,
        help="branches per model (main and pull requests' branches with runs of their own)",
    )  # fmt: skip
    parser.add_argument(
        "--without-peers", action="store_true",
        help="skip MLflow and PostgreSQL's own bulk paths (measured beside suite and bulk)",
    )  # fmt: skip
    parser.add_argument(
        "--scenario",
        default="all",
        help=f"'all' or some of {', '.join(SCENARIOS)}, comma-separated",
    )
    args = parser.parse_args(argv)
    args.names = list(SCENARIOS) if args.scenario == "all" else args.scenario.split(",")
    unknown = set(args.names) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario {', '.join(sorted(unknown))}")
    return args


def interrupt(signum, frame):
    raise KeyboardInterrupt  # so that a kill (SIGTERM) cleans up like Ctrl-C


def main(argv=None):
    args = parse_args(argv)
    sizes = dataclasses.replace(
        QUICK if args.quick else FULL, branches=args.branches, peers=not args.without_peers
    )
    return run_and_report(lambda: measure(args.names, sizes), args.quick)


def run_and_report(measure_figures, quick) -> int:
    """Run ``measure_figures()`` and print its summary; the exit status of a benchmark."""
    # The client threads share one interpreter: a thread whose answer has arrived waits for
    # the GIL up to the switch interval (5 ms by default), which would count as server time.
    sys.setswitchinterval(0.0002)
    signal.signal(signal.SIGTERM, interrupt)
    started, load_before = time.monotonic(), load_average()
    try:
        figures = measure_figures()
    except (BenchError, httpx.HTTPError, psycopg2.Error) as exc:
        sys.stdout.flush()
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
    print_summary(figures, quick, load_before)
    print(f"Took {time.monotonic() - started:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
