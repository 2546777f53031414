"""The demo project's models, datasets, slices and metrics, and their generated history:
the planted drift, step, noise and intended change that ``seed_demo`` posts (see its
docstring). Pure: numbers and run bodies from a seed, no database. The bodies are what the
posting service takes, in the shape the API validates a posted body to
(``RunInputSerializer``; tests/test_seed_demo.py holds them to it)."""

import zlib
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
from django.utils import timezone

MIN_VERSIONS = 40  # the newer holdout covers the latest 40 versions
BATCH = 100  # runs per post
Z95 = 1.96
PINNED_BY = "demo"


@dataclass(frozen=True)
class Metric:
    name: str
    level: float  # the overall level once the model matured
    sd: float  # scatter from version to version
    higher_is_better: bool = True
    n_share: float | None = None  # what ``n`` counts, as a share of the slice's rows
    ci: bool = False  # post a 95% interval
    tails: float | None = None  # Student-t degrees of freedom: heavy-tailed scatter
    unit: str | None = None
    decimals: int = 4
    per_slice: bool = True


@dataclass(frozen=True)
class Slice:
    name: str
    share: float  # of the dataset's rows
    shift: float = 0.0  # level offset, in sd; negative is worse


@dataclass(frozen=True)
class Dataset:
    name: str
    version: str
    size: int
    latest: int | None = None  # evaluated on the latest versions only
    shift: float = 0.0  # level offset, in sd; negative is worse (a harder set)


@dataclass(frozen=True)
class Planted:
    shape: str  # "drift" (linear) or "step"
    versions_ago: int  # where it starts
    size: float  # how much worse at the latest version, in sd


@dataclass(frozen=True)
class IntendedChange:
    versions_ago: int
    note: str
    changes: dict  # metric name: change in the metric's units


@dataclass(frozen=True)
class PullRequest:
    """A branch evaluated by CI off the main line's latest version: ``changes`` (metric name:
    change in its units) grow over its ``runs``; a merged one is marked merged at the end."""

    branch: str
    number: int
    runs: int
    changes: dict
    merged: bool = False


@dataclass(frozen=True)
class DemoModel:
    name: str
    first_version: tuple[int, int, int]
    cadence_days: float
    datasets: tuple[Dataset, ...]
    slices: tuple[Slice, ...]
    metrics: tuple[Metric, ...]
    planted: dict = field(default_factory=dict)  # (metric, slice): Planted
    intended: IntendedChange | None = None
    baseline_versions_ago: int | None = None  # pinned on the latest dataset version
    rules: tuple[dict, ...] = ()
    pull_requests: tuple[PullRequest, ...] = ()
    # The latest ``replicated_versions`` versions are also evaluated with these seeds (beside
    # every run's 42), scattering by ``seed_sd`` of each metric's sd: replicate sets.
    extra_seeds: tuple[int, ...] = ()
    replicated_versions: int = 0
    seed_sd: float = 1.0


def latency(name, level, sd) -> Metric:
    """A latency percentile: lower is better, measured over all traffic (no slices)."""
    return Metric(name, level, sd, higher_is_better=False, unit="ms", decimals=2, per_slice=False)


MODELS = (
    DemoModel(
        name="fraud-classifier",
        first_version=(2, 3, 0),
        cadence_days=2.5,
        datasets=(
            Dataset("holdout", "2026-06", 400_000),
            Dataset("holdout", "2026-09", 520_000, latest=MIN_VERSIONS, shift=-1.5),
        ),
        slices=(
            Slice("overall", 1.0),
            Slice("country=DE", 0.22, -2.0),
            Slice("country=US", 0.41, 1.0),
        ),
        metrics=(
            Metric("accuracy", 0.9914, 0.0002, n_share=1.0),
            Metric("precision", 0.874, 0.004, n_share=0.014),
            Metric("recall", 0.836, 0.004, n_share=0.015),
            Metric("f1", 0.854, 0.003),
            Metric("auc_roc", 0.9781, 0.0008, n_share=1.0, ci=True),
        ),
        planted={("recall", "overall"): Planted("drift", 20, 7.0)},
        baseline_versions_ago=30,
        pull_requests=(
            # Merged: better recall for a little precision.
            PullRequest(
                "feature/calibrated-threshold",
                412,
                3,
                {"recall": 0.012, "precision": -0.003},
                merged=True,
            ),
            # Open, and failing the gate against main: a smaller model that is clearly worse.
            PullRequest(
                "experiment/distilled",
                418,
                2,
                {"accuracy": -0.004, "recall": -0.03, "auc_roc": -0.012},
            ),
        ),
        rules=(
            {"metric": "auc_roc", "dataset_name": "holdout", "min": 0.965},
            {
                "metric": "recall",
                "dataset_name": "holdout",
                "slice": "overall",
                "min": 0.8,
                "budget": 0.03,
            },
            {
                "metric": "precision",
                "dataset_name": "holdout",
                "slice": "overall",
                "max_drop": 0.02,
            },
        ),
    ),
    DemoModel(
        name="price-regressor",
        first_version=(0, 9, 0),
        cadence_days=3.0,
        datasets=(Dataset("listings-test", "2026-05", 48_000),),
        slices=(Slice("overall", 1.0), Slice("segment=new_listings", 0.15, -6.0)),
        metrics=(
            Metric("mae", 14.2, 0.12, higher_is_better=False, n_share=1.0, unit="kEUR", decimals=3),
            Metric("rmse", 23.8, 0.2, higher_is_better=False, n_share=1.0, unit="kEUR", decimals=3),
            Metric("r2", 0.874, 0.002, n_share=1.0),
        ),
        planted={
            ("mae", "overall"): Planted("step", 8, 6.0),
            ("rmse", "overall"): Planted("step", 8, 6.0),
        },
        baseline_versions_ago=20,
        rules=(
            {"metric": "mae", "dataset_name": "listings-test", "slice": "overall", "max": 15.5},
            {"metric": "r2", "dataset_name": "listings-test", "slice": "overall", "min": 0.85},
        ),
    ),
    DemoModel(
        name="summarizer",
        first_version=(3, 1, 0),
        cadence_days=2.0,
        datasets=(Dataset("cnn-dailymail-test", "3.0.0", 11_490),),
        slices=(Slice("overall", 1.0), Slice("length=long", 0.3, -3.0)),
        metrics=(
            Metric("bleu", 17.8, 1.1, ci=True, tails=3.0, decimals=2),
            Metric("rouge_l", 0.392, 0.0025, n_share=1.0, ci=True),
            Metric("perplexity", 9.82, 0.06, higher_is_better=False, decimals=3),
            Metric("bertscore_f1", 0.8743, 0.0012, n_share=1.0),
        ),
        extra_seeds=(7, 1234),
        replicated_versions=6,
    ),
    DemoModel(
        name="ranking-service",
        first_version=(5, 12, 0),
        cadence_days=1.5,
        datasets=(Dataset("replay-traffic", "2026-08", 200_000),),
        slices=(Slice("overall", 1.0), Slice("segment=new_users", 0.12, -4.0)),
        metrics=(
            Metric("ndcg_at_10", 0.712, 0.003, n_share=1.0),
            latency("latency_p50_ms", 18.4, 0.35),
            latency("latency_p95_ms", 41.0, 0.9),
            latency("latency_p99_ms", 77.5, 2.2),
        ),
        intended=IntendedChange(
            versions_ago=15,
            note="Larger cross-encoder re-ranker: latency up by design, nDCG@10 up 1.2 points.",
            changes={
                "latency_p50_ms": 3.1,
                "latency_p95_ms": 8.4,
                "latency_p99_ms": 14.0,
                "ndcg_at_10": 0.012,
            },
        ),
        rules=(
            {"metric": "latency_p95_ms", "max": 60.0},
            {"metric": "latency_p99_ms", "max": 120.0},
        ),
    ),
)


def run_bodies(model: DemoModel, history: list[tuple], seed: int) -> list[dict]:
    """The run bodies CI would have posted for ``model``, validated: in version order, and
    in dataset order within a version (the newer dataset evaluated last)."""
    versions = len(history)
    bodies = []
    for position, dataset in enumerate(model.datasets):
        first = versions - (dataset.latest or versions)
        series = [
            (metric, slice_, series_values(model, dataset, slice_, metric, versions, first, seed))
            for metric in model.metrics
            for slice_ in model.slices
            if metric.per_slice or slice_.name == "overall"
        ]
        delay = timedelta(minutes=25 * position)  # the datasets are evaluated one by one
        for index in range(first, versions):
            metrics = [
                metric_body(dataset, metric, slice_, values[index - first])
                for metric, slice_, values in series
            ]
            bodies.append(
                (index, position, run_body(model, dataset, history[index], delay, metrics))
            )
            if index >= versions - model.replicated_versions:
                version_values = [(m, s, values[index - first]) for m, s, values in series]
                bodies += [
                    (index, position, body)
                    for body in seed_bodies(model, dataset, version_values, bodies[-1][2], seed)
                ]
    return [body for _, _, body in sorted(bodies, key=lambda item: item[:2])]


def seed_bodies(model, dataset, version_values, body, seed) -> list[dict]:
    """The runs of ``body``'s version with the model's other seeds, a few minutes after it:
    each metric a draw around the version's value, ``seed_sd`` of the metric's sd apart."""
    rng = np.random.default_rng([seed, zlib.crc32(body["external_id"].encode())])
    runs = []
    for order, extra in enumerate(model.extra_seeds, start=1):
        metrics = [
            metric_body(dataset, metric, slice_, value + model.seed_sd * metric.sd * rng.normal())
            for metric, slice_, value in version_values
        ]
        later = timedelta(minutes=6 * order)
        runs.append({
            **body,
            "seed": extra,
            "external_id": f"{body['external_id']}-seed{extra}",
            "started_at": body["started_at"] + later,
            "finished_at": body["finished_at"] + later,
            "metrics": metrics,
        })  # fmt: skip
    return runs


def run_body(model, dataset, version, delay, metrics) -> dict:
    label, commit, branch, finished, build = version
    ci_url = f"https://ci.example.com/{model.name}/builds/{build}"
    return {
        "model": model.name,
        "version": label,
        "commit": commit,
        "branch": branch,
        "base_branch": "",
        "dataset": {"name": dataset.name, "version": dataset.version, "size": dataset.size},
        "environment": "offline",
        "external_id": f"demo-{model.name}-{label}-{dataset.name}@{dataset.version}",
        "seed": 42,
        "started_at": finished + delay - timedelta(minutes=18),
        "finished_at": finished + delay,
        "ci_url": ci_url,
        "metadata": {"ci_url": ci_url},
        "metrics": metrics,
    }


def version_history(model: DemoModel, versions: int, seed: int) -> list[tuple]:
    """(label, commit, branch, finished_at, build) of each version, oldest first: mostly patch
    releases, a minor release now and then, run times spread back from a few hours ago."""
    rng = np.random.default_rng([seed, zlib.crc32(model.name.encode())])
    major, minor, patch = model.first_version
    gaps = model.cadence_days * rng.uniform(0.5, 1.5, versions)
    latest = timezone.now().replace(microsecond=0) - timedelta(hours=float(rng.uniform(2, 8)))
    history, build = [], int(rng.integers(1000, 5000))
    for index in range(versions):
        if index:
            roll = rng.random()
            if roll < 0.015:
                major, minor, patch = major + 1, 0, 0
            elif roll < 0.2:
                minor, patch = minor + 1, 0
            else:
                patch += 1
        branch = "main"
        commit = "".join(rng.choice(list("0123456789abcdef"), 40))
        finished = latest - timedelta(days=float(gaps[index + 1 :].sum()))
        build += int(rng.integers(3, 40))
        history.append((f"{major}.{minor}.{patch}", commit, branch, finished, build))
    return history


def pull_request_bodies(model: DemoModel, bodies: list[dict], seed: int) -> list[list[dict]]:
    """Each pull request's runs: its branch off the main line's latest run on the latest
    dataset, with its changes growing run by run (rates kept within 0 and 1)."""
    latest = model.datasets[-1]
    base = next(body for body in reversed(bodies) if body["dataset"]["version"] == latest.version)
    rng = np.random.default_rng([seed, zlib.crc32(model.name.encode()), 7])
    posts = []
    for pr in model.pull_requests:
        runs = []
        for index in range(1, pr.runs + 1):
            version = f"{base['version']}-pr{pr.number}.{index}"
            finished = base["finished_at"] + timedelta(hours=3 * index + pr.number % 5)
            metrics = []
            for metric in base["metrics"]:
                change = pr.changes.get(metric["name"], 0.0) * index / pr.runs
                metrics.append(_changed(metric, change))
            ci_url = f"https://ci.example.com/{model.name}/pull/{pr.number}/{index}"
            runs.append(
                base | {
                    "version": version,
                    "commit": "".join(rng.choice(list("0123456789abcdef"), 40)),
                    "branch": pr.branch,
                    "external_id": f"demo-{model.name}-{version}",
                    "started_at": finished - timedelta(minutes=18),
                    "finished_at": finished,
                    "ci_url": ci_url,
                    "metadata": {"ci_url": ci_url, "pull_request": pr.number},
                    "metrics": metrics,
                }
            )  # fmt: skip
        posts.append(runs)
    return posts


def _changed(metric, change):
    """A metric body moved by ``change`` (its interval too), a rate kept within [0, 1]."""
    moved = dict(metric)
    value = metric["value"] + change
    if 0 <= metric["value"] <= 1:
        value = min(1.0, max(0.0, value))
    shift = value - metric["value"]
    digits = len(str(metric["value"]).split(".")[-1]) if "." in str(metric["value"]) else 4
    moved["value"] = round(value, digits)
    for bound in ("ci_low", "ci_high"):
        if metric.get(bound) is not None:
            moved[bound] = round(metric[bound] + shift, digits)
    return moved


def series_values(model, dataset, slice_, metric, versions, first, seed) -> np.ndarray:
    """One series' values from ``first`` to the latest version: the level (lower while the
    model was young), the planted change, the intended change and the scatter."""
    index = np.arange(first, versions)
    sd = effective_sd(metric, dataset, slice_)
    worse = -1.0 if metric.higher_is_better else 1.0
    deficit = 3.0 * np.exp(-index / 12.0) - slice_.shift - dataset.shift  # in sd, worse > 0
    planted = model.planted.get((metric.name, slice_.name))
    if planted is not None:
        start = versions - planted.versions_ago
        if planted.shape == "drift":
            deficit = deficit + planted.size * np.clip(
                (index - start + 1) / planted.versions_ago, 0, 1
            )
        else:
            deficit = deficit + planted.size * (index >= start)
    values = metric.level + worse * sd * deficit
    if model.intended is not None and metric.name in model.intended.changes:
        values = values + model.intended.changes[metric.name] * (
            index >= versions - model.intended.versions_ago
        )
    # Counted back from the latest version, so the planted stretch sees the same scatter
    # whatever --versions is.
    key = f"{model.name}|{dataset.name}@{dataset.version}|{metric.name}|{slice_.name}"
    rng = np.random.default_rng([seed, zlib.crc32(key.encode())])
    if metric.tails:
        scatter = rng.standard_t(metric.tails, index.size) * np.sqrt(
            (metric.tails - 2) / metric.tails
        )
    else:
        scatter = rng.standard_normal(index.size)
    return values + sd * scatter[::-1]


def effective_sd(metric, dataset, slice_) -> float:
    """The scatter of a metric on a slice: smaller slices of a rate scatter more."""
    n = sample_size(metric, dataset, slice_)
    if n is None or not 0 < metric.level < 1:
        return metric.sd / np.sqrt(slice_.share)
    return max(metric.sd / np.sqrt(slice_.share), np.sqrt(metric.level * (1 - metric.level) / n))


def sample_size(metric, dataset, slice_) -> int | None:
    if metric.n_share is None:
        return None
    return max(1, round(dataset.size * slice_.share * metric.n_share))


def metric_body(dataset, metric, slice_, value) -> dict:
    body = {
        "name": metric.name,
        "value": round(float(value), metric.decimals),
        "slice": slice_.name,
    }
    n = sample_size(metric, dataset, slice_)
    if n is not None:
        body["n"] = n
    if metric.ci:
        half = Z95 * effective_sd(metric, dataset, slice_)
        body["ci_low"] = round(float(value - half), metric.decimals)
        body["ci_high"] = round(float(value + half), metric.decimals)
    if metric.unit:
        body["unit"] = metric.unit
    return body


# Online comparisons, one of each kind, on the models' latest versions: (kind, model, the
# experiment's body without its versions, windows posted). Windows are 15 minutes apart and
# end a little before now, so the experiments look alive.
EXPERIMENTS = (
    ("canary", "fraud-classifier", {
        "primary_metric": {"name": "approval_rate", "type": "proportion",
                           "direction": "higher_is_better", "max_degradation": 0.01},
        "guardrails": [{"name": "error_rate", "type": "proportion",
                        "direction": "lower_is_better", "max_degradation": 0.002},
                       {"name": "latency_ms", "type": "mean", "direction": "lower_is_better",
                        "max_degradation": 5.0}],
        "traffic_steps": [5, 25, 50, 100], "min_windows_per_step": 4}, 14),
    ("shadow", "summarizer", {
        "primary_metric": {"name": "agreement", "type": "proportion",
                           "direction": "higher_is_better", "min": 0.95},
        "guardrails": [{"name": "latency_ms", "type": "mean", "direction": "lower_is_better",
                        "max_degradation": 20.0}]}, 6),
    ("interleaving", "ranking-service", {
        "primary_metric": {"name": "clicks", "type": "proportion",
                           "direction": "higher_is_better"}}, 10),
    ("bandit", "price-regressor", {
        "primary_metric": {"name": "conversion", "type": "proportion",
                           "direction": "higher_is_better"}, "seed": 7}, 24),
)  # fmt: skip


def experiment_body(kind, model, config, labels) -> dict:
    """An experiment on the model's latest versions: the one before the latest as control."""
    control, candidate = labels[-2], labels[-1]
    candidates = [candidate] if kind != "bandit" else [candidate, labels[-3]]
    return {
        "name": f"{model} {candidate} {kind}", "model": model, "kind": kind,
        "control": control, "candidates": candidates, "guardrails": [], "alpha": 0.05,
        "traffic_steps": [1, 5, 25, 50, 100], "planned_split": {}, "min_windows_per_step": 1,
        "seed": 0, **config,
    }  # fmt: skip


def experiment_window(body, index, count, rng, *, share=0.05, weights=None) -> dict:
    """The ``index``-th of ``count`` windows of plausible live traffic, ending a little before
    now: the candidate as good as the control at ``share`` of the traffic (a canary that
    promotes step by step), a shadow that agrees 95.8% of the time and answers a little faster,
    a ranker preferred 51.5/48.5, a bandit's arms at the ``weights`` of its latest split, one
    converting a little better."""
    end = timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=5)
    finish = end - timedelta(minutes=15 * (count - 1 - index))
    versions = [body["control"], *body["candidates"]]
    window = {"window_id": f"demo-{index:03d}", "start": finish - timedelta(minutes=15),
              "end": finish}  # fmt: skip
    if body["kind"] == "canary":
        window["arms"] = _canary_arms(rng, versions, share)
    elif body["kind"] == "shadow":
        n = int(rng.integers(300, 400))
        window["agreement"] = {"n": n, "agree": int(rng.binomial(n, 0.958))}
        window["arms"] = {}
        for version, mean in zip(versions, (410.0, 404.0), strict=True):  # a little faster
            latency = rng.normal(mean, 60, n)
            window["arms"][version] = {"n": n, "metrics": {"latency_ms": {
                "sum": float(latency.sum()), "sum_sq": float((latency**2).sum())}}}  # fmt: skip
    elif body["kind"] == "interleaving":
        decisive = int(rng.integers(1500, 2000))
        wins = int(rng.binomial(decisive, 0.515))
        window["arms"] = {version: {"n": decisive + 300} for version in versions}
        window["credit"] = {versions[1]: wins, versions[0]: decisive - wins, "ties": 300}
    else:
        rates = dict(zip(versions, (0.050, 0.056, 0.049), strict=False))
        weights = weights or dict.fromkeys(versions, 1 / len(versions))
        window["arms"] = {}
        for version in versions:
            n = int(3000 * weights[version])
            conversions = int(rng.binomial(n, rates[version]))
            window["arms"][version] = {
                "n": n,
                "metrics": {"conversion": {"successes": conversions}},
            }
    return window


def _canary_arms(rng, versions, share) -> dict:
    arms = {}
    for version, part in zip(versions, (1 - share, share), strict=True):
        n = int(40_000 * part)
        latency = rng.normal(120, 15, n)
        arms[version] = {"n": n, "metrics": {
            "approval_rate": {"successes": int(rng.binomial(n, 0.91))},
            "error_rate": {"successes": int(rng.binomial(n, 0.004))},
            "latency_ms": {"sum": float(latency.sum()), "sum_sq": float((latency**2).sum())},
        }}  # fmt: skip
    return arms
