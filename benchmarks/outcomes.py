"""Benchmark of CI posts that carry per-example outcomes of a million examples, on the
production path (gunicorn, PostgreSQL, a Redis broker and a worker: ``benchmarks/stack.py``).

A baseline version posts 3 metrics with outcomes of 1,000,000 examples each (base64 of the
packed bits: 167 kB per metric, a 500 kB body) and is pinned, with a significance rule on
each; then each post is a new version whose outcomes differ from the baseline's on 40,000
examples per metric, split almost evenly between broken and fixed (the slowest case of
McNemar's tail, and the one where it matters: p near 0.5). One client posts in sequence;
p50/p95 latency over rounds, target p95 < 1 s (gunicorn's timeout is 30 s). Also the compare
API between the baseline and a candidate (both runs' outcomes read, McNemar per metric).

    .venv/bin/python -m benchmarks.outcomes [--quick]
"""

import argparse
import base64
import json
import sys

import numpy as np

from .api import Api, Figure, Request, ms, p50, p95, run_and_report
from .stack import BENCH_DB, WORKERS, BenchError, CpuMeter, running_stack

MODEL = "bench-outcomes"
EXAMPLES = 1_000_000
METRICS = ("accuracy", "exact_match", "top5_accuracy")
DISCORDANT = 40_000
DATASET = {"name": "holdout-1m", "version": "v1", "size": EXAMPLES}
WARMUP_POSTS = 3


def outcomes_body(version, outcomes):
    metrics = [
        {"name": name, "value": float(correct.mean()), "n": EXAMPLES,
         "outcomes": base64.b64encode(np.packbits(correct).tobytes()).decode()}
        for name, correct in zip(METRICS, outcomes, strict=True)
    ]  # fmt: skip
    body = {"model": MODEL, "version": version, "dataset": DATASET, "metrics": metrics}
    return json.dumps(body).encode()


def candidate(base, rng):
    """``base`` with DISCORDANT examples flipped, about half of them each way."""
    new = base.copy()
    flipped = rng.choice(EXAMPLES, size=DISCORDANT, replace=False)
    new[flipped] = ~new[flipped]
    return new


def posts(base, rng, tag, count):
    bodies = [outcomes_body(f"{tag}-{i}", [candidate(b, rng) for b in base]) for i in range(count)]
    return [Request("POST", "/api/v1/runs/", body) for body in bodies]


def check_mcnemar(response):
    checks = response.json()["gate"]["checks"]
    methods = [check["method"] or "" for check in checks]
    if len(checks) != len(METRICS) or not all(m.startswith("McNemar") for m in methods):
        raise BenchError(f"expected a McNemar check per metric, got {checks}")


def measure(rounds, per_round):
    rng = np.random.default_rng(7)
    # Rates of 0.5, as a hard benchmark's are: broken and fixed come out nearly even.
    base = [rng.uniform(size=EXAMPLES) < 0.5 for _ in METRICS]
    figures = []
    with running_stack() as stack:
        print(f"gunicorn ({WORKERS} workers) at {stack.base_url}, database {BENCH_DB}")
        api = Api(stack.base_url, stack.token, CpuMeter(stack.gunicorn_pid), stack.clear_cache)
        baseline = outcomes_body("base", base)
        print(
            f"{len(METRICS)} metrics x {EXAMPLES:,} outcomes, a {len(baseline) / 1e3:.0f} kB body"
        )
        api.send([[
            Request("POST", "/api/v1/runs/", baseline),
            Request("PUT", f"/api/v1/models/{MODEL}/baseline/",
                    json.dumps({"dataset": DATASET["name"], "version": "base"}).encode()),
            *[Request("POST", f"/api/v1/models/{MODEL}/thresholds/",
                      json.dumps({"metric": name, "significance": 0.05}).encode())
              for name in METRICS],
        ]])  # fmt: skip
        api.send([posts(base, rng, "warmup", WARMUP_POSTS)], check_mcnemar)
        latencies = []
        for index in range(1, rounds + 1):
            requests = posts(base, rng, f"round{index}", per_round)
            got, _ = api.send([requests], check_mcnemar)
            print(f"  round {index}/{rounds}: {len(got)} posts, p50 {ms(p50(got)):.0f} ms, "
                  f"max {ms(max(got)):.0f} ms")  # fmt: skip
            latencies.append((p50(got), p95(got) if len(got) > 1 else got[0]))
        compare = Request(
            "GET", f"/api/v1/models/{MODEL}/compare/?a=base&b=round1-0&dataset={DATASET['name']}"
        )
        reads, _ = api.send([[compare] * per_round])
        figures += [
            Figure("outcomes", "post p50 latency", ms(p50([r[0] for r in latencies])), "ms"),
            Figure("outcomes", "post p95 latency", ms(p50([r[1] for r in latencies])), "ms", 1000),
            Figure("outcomes", "compare p50 latency", ms(p50(reads)), "ms"),
        ]  # fmt: skip
    return figures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one round of 5 posts")
    args = parser.parse_args(argv)
    rounds, per_round = (1, 5) if args.quick else (5, 20)
    return run_and_report(lambda: measure(rounds, per_round), args.quick)


if __name__ == "__main__":
    sys.exit(main())
