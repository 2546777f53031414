"""What benchmarks/history.py writes: about 10 million metric results of a few hundred models
of a dozen teams over four years, and the probes' own models.

Each model is a plan: its metrics, slices, datasets and versions (with their times and
branches), and a seed for its values. ``benchmarks/history_copy.py`` writes plans into the
tables. Two models are the probes', the same in every database generated:
``bench/classifier`` (1,000 versions x 20 metrics x 3 slices: the model page's, shaped as
benchmarks/pages.py shapes it) and ``bench/bench-series`` (one series of 5,000 points: the
series read's, as benchmarks/api.py posts it).
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from . import pages

START, END = datetime(2023, 1, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
TEAMS, MODELS = 12, 300
VERSIONS_RANGE = (20, 3000)
# Of a model's versions, those evaluated on a pull request's branch (of 1-3 versions).
PR_SHARE = 0.05
# (name, a rate on the dataset's examples: posted with n, posted with a 95% interval)
METRIC_POOL = (
    ("accuracy", True, True),
    ("precision", True, False),
    ("recall", True, False),
    ("f1", False, False),
    ("auc_roc", False, True),
    ("balanced_accuracy", True, False),
    ("log_loss", False, False),
    ("mae", False, False),
    ("rmse", False, False),
    ("r2", False, False),
    ("bleu", False, True),
    ("rouge_l", False, False),
    ("perplexity", False, False),
    ("ndcg_at_10", False, False),
    ("latency_p50_ms", False, False),
    ("latency_p95_ms", False, True),
    ("latency_p99_ms", False, False),
    ("throughput_rps", False, False),
    ("calibration_error", False, False),
    ("top5_accuracy", True, False),
    ("wer", False, False),
    ("map_at_10", False, False),
)
SLICE_POOL = (
    "country=DE",
    "country=US",
    "country=FR",
    "segment=new_users",
    "device=mobile",
    "device=desktop",
    "length=long",
    "language=es",
)
# What the gate answered a model without a baseline or rules, as runs store it.
NO_BASELINE = {"status": "no_baseline", "base_branch": "main", "checks": []}


@dataclass
class Metric:
    name: str
    with_n: bool = False
    with_interval: bool = False
    direction: str = ""  # the catalogue's when empty, as for a post that names none
    unit: str | None = None  # likewise
    level: float = 0.9
    spread: float = 0.004
    interval: float = 0.0  # the half-width of its intervals


@dataclass
class ModelPlan:
    project: str
    name: str
    metrics: list
    slices: list
    datasets: list  # (name, version: None for the year of each run, size)
    times: list  # each version's, ascending; a version's runs come a few minutes apart
    labels: list
    branches: list  # each version's
    seed: int
    verdict: dict | None = None
    metadata: dict = field(default_factory=dict)
    external_ids: bool = True  # CI's idempotency keys (and a CI link) on its runs

    def results_per_version(self):
        return len(self.datasets) * len(self.metrics) * len(self.slices)


def probe_plans():
    """The probes' models: the model page's and the series read's."""
    classifier = [
        Metric(name, rate, bool(unit), direction, unit, interval=0.01)
        for name, direction, unit, rate in pages.METRICS
    ]
    versions, points = 1000, 5000
    return [
        ModelPlan(
            "bench",
            "classifier",
            classifier,
            list(pages.SLICES),
            [("holdout", "v1", None)],
            spread_times(versions),
            [f"{1 + v // 100}.{v % 100}.0" for v in range(versions)],
            ["main"] * versions,
            seed=11,
            external_ids=False,
        ),
        ModelPlan(
            "bench",
            "bench-series",
            [Metric("accuracy", True, True, spread=0.0015, interval=0.006)],
            ["overall"],
            [("holdout", "2024-06", 10_000)],
            spread_times(points),
            [f"s-{i}" for i in range(points)],
            ["main"] * points,
            seed=12,
            verdict=NO_BASELINE,
            metadata={"runner": "benchmarks.api"},
            external_ids=False,
        ),
    ]


def spread_times(count, first=START, last=END):
    step = (last - first) / max(count - 1, 1)
    return [(first + i * step).replace(microsecond=0) for i in range(count)]


def background_plans(results, seed=1):
    """``MODELS`` models of ``TEAMS`` teams, ``results`` results in all: each with 4-20
    metrics on 1-5 slices and one or two datasets (a new version of each every year), its
    versions spread over the years since it started (lognormal: many small models, a few
    with thousands of versions), a few of them on pull requests' branches."""
    rng = np.random.default_rng(seed)
    shapes = []
    for index in range(MODELS):
        picked = rng.choice(len(METRIC_POOL), rng.integers(4, 21), replace=False)
        metrics = [METRIC_POOL[i] for i in sorted(picked)]
        slices = ["overall", *rng.choice(SLICE_POOL, rng.integers(0, 5), replace=False).tolist()]
        datasets = ["holdout"] + (["stress"] if rng.random() < 0.4 else [])
        began = START + timedelta(days=float(rng.uniform(0, 1000)))
        shapes.append((index, metrics, slices, datasets, began))
    per_version = np.array([len(d) * len(m) * len(s) for _, m, s, d, _ in shapes])
    weights = rng.lognormal(0, 1, len(shapes))
    low, high = 0.0, float(results)
    for _ in range(100):  # the scale whose clipped version counts come to ``results``
        scale = (low + high) / 2
        versions = np.clip(np.round(weights * scale), *VERSIONS_RANGE).astype(int)
        if np.sum(versions * per_version) < results:
            low = scale
        else:
            high = scale
    return [
        _background_plan(rng, *shape, int(count))
        for shape, count in zip(shapes, versions, strict=True)
    ]


def _background_plan(rng, index, pool_metrics, slices, datasets, began, count):
    metrics = []
    for name, rate, with_interval in pool_metrics:
        level = 40.0 if "latency" in name else float(rng.uniform(0.3, 0.95))
        spread = level * float(rng.uniform(0.002, 0.02))
        metrics.append(Metric(name, rate, with_interval, level=level, spread=spread,
                              interval=1.96 * spread))  # fmt: skip
    times = sorted((began + (END - began) * float(x)).replace(microsecond=0)
                   for x in rng.random(count))  # fmt: skip
    labels = [f"{1 + v // 100}.{(v // 10) % 10}.{v % 10}" for v in range(count)]
    branches = ["main"] * count
    v = 0
    while v < count:
        if rng.random() < PR_SHARE / 2:  # a pull request's branch of 1-3 versions
            length = int(rng.integers(1, 4))
            for k in range(v, min(v + length, count)):
                branches[k], labels[k] = f"feature/pr-{v}", f"pr-{v}.{k - v}"
            v += length
        v += 1
    return ModelPlan(
        f"team-{index % TEAMS:02d}",
        f"model-{index:03d}",
        metrics,
        slices,
        [(name, None, (10_000, 50_000)[d]) for d, name in enumerate(datasets)],
        times,
        labels,
        branches,
        seed=1000 + index,
        verdict=NO_BASELINE,
    )


def plan_results(plans):
    return sum(len(plan.times) * plan.results_per_version() for plan in plans)


def values_of(plan):
    """The plan's values, versions x datasets x metrics x slices: each series hovers around
    a level of its own with its metric's spread; rounded as CI posts them."""
    rng = np.random.default_rng(plan.seed)
    shape = (len(plan.times), len(plan.datasets), len(plan.metrics), len(plan.slices))
    levels = np.array([m.level for m in plan.metrics])[:, None]
    spreads = np.array([m.spread for m in plan.metrics])[:, None]
    offsets = rng.normal(0, 2, shape[1:]) * spreads
    return np.round(levels + offsets + rng.normal(0, 1, shape) * spreads, 6)
