"""Reads of replicate sets (services/replicates.py writes them): which points of a series a
set stands for, the series' rows with each set's members merged into its one point, the sets
a stored run belongs to as the gate judges them, and a run's siblings in its sets."""

import math
from collections import defaultdict
from dataclasses import replace
from typing import NamedTuple

import numpy as np

from evaluations.models import EvaluationRun, ReplicateSet
from trackerclient import replicates


class SetRow(NamedTuple):
    series_id: int
    model_version_id: int
    run_id: int  # the latest member: the set's place in time
    recorded_at: object
    replicates: int
    value: float
    sd: float
    n: int | None
    ci_low: float
    ci_high: float
    members: frozenset  # the version's seeded runs: their rows on the series are the set's


def replicate_sets(*, series_ids) -> dict:
    """{series id: [SetRow]} of the given series, in two queries."""
    rows = list(
        ReplicateSet.objects.filter(series_id__in=series_ids).values_list(
            "series_id", "model_version_id", "run_id", "recorded_at", "replicates", "value", "sd",
            "n", "ci_low", "ci_high",
        )
    )  # fmt: skip
    if not rows:
        return {}
    members = defaultdict(set)
    for run_id, version_id in EvaluationRun.objects.filter(
        model_version_id__in={row[1] for row in rows}, seed__isnull=False
    ).values_list("id", "model_version_id"):
        members[version_id].add(run_id)
    sets = defaultdict(list)
    for row in rows:
        sets[row[0]].append(SetRow(*row, frozenset(members[row[1]])))
    return dict(sets)


def merged_points(points, sets, labels) -> list[dict]:
    """The series API's points (dicts, oldest first) with each set's members replaced by the
    set's point, in time order."""
    hidden = {(labels[s.model_version_id], run_id) for s in sets for run_id in s.members}
    kept = [p for p in points if (p["version"], p["run_id"]) not in hidden]
    kept += [
        {"version": labels[s.model_version_id], "value": s.value, "n": s.n, "ci_low": s.ci_low,
         "ci_high": s.ci_high, "run_id": s.run_id, "at": s.recorded_at,
         "replicates": s.replicates, "sd": s.sd}
        for s in sets
    ]  # fmt: skip
    return sorted(kept, key=lambda p: (p["at"], p["run_id"]))


class Row(NamedTuple):
    """A result as the analysis reads it."""

    series_id: int
    version_id: int
    run_id: int
    recorded_at: object
    value: float
    n: int | None
    ci_low: float | None
    ci_high: float | None


def merged_rows(rows, sets) -> list[Row]:
    """``rows`` (Row, oldest first within a series) with each set's members replaced by one
    row of the set (its mean, n and interval), in time order within each series."""
    by_series = defaultdict(list)
    for row in rows:
        by_series[row.series_id].append(row)
    merged = []
    for series_id, own in by_series.items():
        ours = sets.get(series_id, [])
        if not ours:
            merged += own
            continue
        hidden = {(s.model_version_id, run_id) for s in ours for run_id in s.members}
        kept = [row for row in own if (row.version_id, row.run_id) not in hidden]
        # Only sets within the rows' window: the rows are the latest of a longer history.
        start = (own[0].recorded_at, own[0].run_id)
        kept += [
            Row(series_id, s.model_version_id, s.run_id, s.recorded_at, s.value, s.n, s.ci_low,
                s.ci_high)
            for s in ours
            if (s.recorded_at, s.run_id) >= start
        ]  # fmt: skip
        merged += sorted(kept, key=lambda row: (row.recorded_at, row.run_id))
    return merged


def with_replicate_sets(*, run_id, seed, results):
    """A stored run's results for the gate (a pinned run's, a run judged again, a version
    compared), as replicate sets where its version has them: a run of ``seed`` None belongs
    to none (no query)."""
    if seed is None:
        return results
    sets = stored_sets(run_id=run_id)
    return [as_set(result, sets.get(result.key)) for result in results]


def stored_sets(*, run_id) -> dict:
    """The stored sets a seeded run belongs to, by (metric, slice): {key: Summary}."""
    rows = ReplicateSet.objects.filter(
        series__results__run_id=run_id,
        model_version__runs__id=run_id,
        model_version__runs__seed__isnull=False,
    ).values_list(
        "series__metric__name", "series__slice", "replicates", "value", "sd", "ci_low",
        "ci_high", "n",
    )  # fmt: skip
    return {
        (name, slice): replicates.Summary(count, mean, sd, low, high, n)
        for name, slice, count, mean, sd, low, high, n in rows
    }


def values_as_sets(*, run_id, values) -> list[dict]:
    """A stored run's result values (``result_values``' dicts) with the seeds' count and spread,
    ``replicates`` and ``sd``, as the gate reads them: a result of a replicate set as the set
    (its mean, n and interval, no outcomes), any other as a single run (1 and None)."""
    sets = stored_sets(run_id=run_id)
    answer = []
    for value in values:
        s = sets.get((value["metric"], value["slice"]))
        if s is None:
            answer.append({**value, "replicates": 1, "sd": None})
            continue
        answer.append({**value, "value": s.mean, "n": s.n, "ci_low": s.ci_low,
                       "ci_high": s.ci_high, "outcomes": None, "replicates": s.replicates,
                       "sd": s.sd})  # fmt: skip
    return answer


def as_set(result, summary):
    """A gate result (``trackerclient.gate.Result``) as the replicate set ``summary`` it
    belongs to: the seeds' mean, spread, count, n and interval; itself without one."""
    if summary is None:
        return result
    return replace(
        result, value=summary.mean, sd=summary.sd, replicates=summary.replicates,
        n=summary.n, ci_low=summary.ci_low, ci_high=summary.ci_high, outcomes=None,
    )  # fmt: skip


class Sibling(NamedTuple):
    run_id: int
    seed: int
    recorded_at: object
    external_id: str | None


def replicate_siblings(*, run) -> "Siblings":
    """The other seeded runs of ``run``'s version on its dataset, branch and environment (its
    replicate sets' members), oldest first, the first ``SIBLINGS_SHOWN`` of them; none when
    the run has no seed."""
    if run.seed is None:
        return Siblings([], 0)
    others = EvaluationRun.objects.filter(
        model_version_id=run.model_version_id, dataset_id=run.dataset_id,
        environment=run.environment, branch=run.branch, seed__isnull=False,
    ).exclude(pk=run.pk)  # fmt: skip
    shown = [
        Sibling(*row)
        for row in others.order_by("recorded_at", "id").values_list(
            "id", "seed", "recorded_at", "external_id"
        )[:SIBLINGS_SHOWN]
    ]
    return Siblings(shown, others.count() if len(shown) == SIBLINGS_SHOWN else len(shown))


class Siblings(NamedTuple):
    shown: list
    total: int


# A run page lists this many siblings at most (a thousand seeds are a thousand runs).
SIBLINGS_SHOWN = 200


def collapsed_axis(runs, alias):
    """The model page's x axis (runs in time order, with ``seed``) with each version's seeded
    runs of two or more distinct seeds on a line as one place, its latest run's; ``alias``
    (runs off the axis: {run id: axis run id}) extended with the runs folded into it."""
    seeded = runs[runs["seed"].notna()]
    if seeded.empty:
        return runs, alias
    folded = {}
    for _, group in seeded.groupby(["version", "branch"], sort=False):
        if group["seed"].nunique() >= 2:
            lead = group.index[-1]
            folded.update((run_id, lead) for run_id in group.index[:-1])
    if not folded:
        return runs, alias
    alias = {off: folded.get(on, on) for off, on in alias.items()} | folded
    return runs.drop(index=list(folded)), alias


def place_sets(shaped, series_list, run_ids, alias, rounded) -> None:
    """Each replicate set of the series, in place of its members in ``shaped`` (the model
    page's values per series, aligned to ``run_ids``): its mean, n and interval, with
    ``replicates`` and ``sd`` per run (None for a series without sets)."""
    sets = replicate_sets(series_ids=[s.pk for s in series_list if s.replicated])
    for series_id, rows in sets.items():
        entry = shaped.get(series_id)
        if entry is None:
            continue
        places = run_ids.get_indexer([alias.get(s.run_id, s.run_id) for s in rows])
        length = len(run_ids)
        for name in ("n", "ci_low", "ci_high"):
            if entry[name] is None:
                entry[name] = [math.nan] * length
        entry["replicates"] = [math.nan] * length
        entry["sd"] = [math.nan] * length
        for place, s in zip(places.tolist(), rows, strict=True):
            if place < 0:  # off the shown runs
                continue
            entry["value"][place] = float(rounded(np.array([s.value]))[0])
            entry["n"][place] = math.nan if s.n is None else s.n
            entry["ci_low"][place], entry["ci_high"][place] = s.ci_low, s.ci_high
            entry["replicates"][place], entry["sd"][place] = s.replicates, s.sd
