"""Seed replicates: a version's runs of distinct seeds on a series make one point, their mean
with their spread as its noise (``trackerclient.replicates``), kept as a ``ReplicateSet``.

Merged when written, not when read. A set changes only when one of its seeds is posted,
which is also when the gate must judge it, or removed (a prune, a run deleted); its reads are
many (the series API, whose 5,000-point answer is stored text joined, the model page, each
analysis job). So a post of a seed summarises its sets once, in the transaction that stores
it, and stores each set's point as the series read answers it: the reads of a series without
seeds (most of them: the flag ``Series.replicated`` says so) stay the queries they were, and
those of a replicated series add one anti-join. Nothing is lost: every run and result row is
stored and listed as posted; the set is derived, and written again with each seed, and after
each removal of a member from what is left (``refresh_replicate_sets``).

A post without a seed costs nothing here. A post with one costs one read of its version's
seeded results on the posted series (the latest run of each seed: the same seed run again
replaces its earlier result in the set rather than counting twice) and, when two or more
distinct seeds are there, one upsert of the sets. The series' rows are already locked by the
post (``ingest._mark_dirty``), so concurrent seeds of one version are summarised one after
the other, each seeing the ones committed before it. That read grows with the seeds, so a set
holds at most ``MAX_SEEDS`` distinct seeds: a post of one more is refused (``TooManySeeds``, a
400 naming ``seed``) and writes nothing.
"""

import math
from collections import defaultdict
from datetime import UTC
from typing import NamedTuple

from django.db import connection
from django.db.models import Exists, OuterRef
from django.utils import timezone

from evaluations import selectors
from evaluations.models import EvaluationRun, MetricResult, ModelVersion, ReplicateSet, Series
from evaluations.models.points import encode_replicate_point
from evaluations.services import branches
from trackerclient import replicates

# Distinct seeds in one replicate set. Seed replicates are a handful of runs (3 to 20, as a
# rule); a post reads its version's seeded results on its series, a few microseconds a seed
# and series, so this bounds what one post of a seed costs.
MAX_SEEDS = 100


class TooManySeeds(Exception):
    """A post would give a replicate set more than ``MAX_SEEDS`` seeds; ``errors`` names the
    field, as ingestion's conflicts do."""

    def __init__(self, *, version, metric, slice, seed):
        self.errors = {
            "seed": [
                f"version {version} already has {MAX_SEEDS} seeds of {metric} ({slice}) on "
                f"this dataset, branch and environment: a replicate set holds at most "
                f"{MAX_SEEDS}, so seed {seed} cannot join it. Post it as another version, or "
                "without a seed."
            ]
        }
        super().__init__(self.errors)


def record_replicate_sets(*, runs) -> None:
    """Summarise the replicate sets the posted ``runs`` (stored, with ``result_list``) belong
    to, store them, and give each seeded run ``replicate_sets``: {series id: Summary}, which
    the gate judges instead of the run alone (``gate_candidate``)."""
    seeded = [run for run in runs if run.seed is not None]
    if not seeded:
        return
    for run in seeded:
        run.replicate_sets = {}  # known now: the gate needs no query for a lone seed
    series_ids = sorted({r.series.pk for run in seeded for r in run.result_list})
    version_ids = sorted({run.model_version_id for run in seeded})
    members = _latest_per_seed(_seeded_results(version_ids, series_ids))
    _refuse_overfull(members, (
        ((r.series.pk, run.model_version_id), run.model_version.label, r.series.metric.name,
         r.series.slice, run.seed)
        for run in seeded for r in run.result_list
    ))  # fmt: skip
    sets = _summaries(members)
    if not sets:
        return
    _store(sets, {run.model_version_id: run.model_version.label for run in seeded})
    for run in seeded:
        run.replicate_sets = {
            r.series.pk: sets[key].summary
            for r in run.result_list
            if (key := (r.series.pk, run.model_version_id)) in sets
        }


def sets_of_runs(*, run_ids) -> set[tuple[int, int]]:
    """(series id, version id) of the stored replicate sets that the seeded runs among
    ``run_ids`` are members of: what their removal changes (``services.removal``)."""
    if not run_ids:
        return set()
    seeded = EvaluationRun.objects.filter(pk__in=run_ids, seed__isnull=False)
    members = MetricResult.objects.filter(
        run_id__in=seeded.values("pk"),
        series_id=OuterRef("series_id"),
        model_version_id=OuterRef("model_version_id"),
    )
    sets = ReplicateSet.objects.filter(
        Exists(members), model_version_id__in=seeded.values("model_version_id")
    )
    return set(sets.values_list("series_id", "model_version_id"))


def refresh_replicate_sets(*, keys) -> None:
    """Summarise the sets ``keys`` ((series id, version id)) again from the members they have
    now, after some were removed, as a post summarises them: a set still of two or more
    distinct seeds gets its mean, spread, interval and point anew, at the time of its latest
    remaining member; one left with fewer is deleted, and the run it had left is a point of
    its own again (a series left without sets is no longer ``replicated``). The series' rows
    must be locked by the caller, as a post locks them."""
    keys = set(keys)
    if not keys:
        return
    version_ids = sorted({version_id for _, version_id in keys})
    members = _latest_per_seed(
        _seeded_results(version_ids, sorted({series_id for series_id, _ in keys}))
    )
    sets = _summaries({key: members[key] for key in keys if key in members})
    gone = defaultdict(list)
    for series_id, version_id in keys - sets.keys():
        gone[version_id].append(series_id)
    for version_id, series_ids in gone.items():
        ReplicateSet.objects.filter(model_version_id=version_id, series_id__in=series_ids).delete()
    # A series left without sets is read as one without seeds again (no anti-join, and its
    # cached points appendable).
    emptied = {series_id for series_ids in gone.values() for series_id in series_ids}
    Series.objects.filter(pk__in=emptied, replicated=True).exclude(
        Exists(ReplicateSet.objects.filter(series=OuterRef("pk")))
    ).update(replicated=False)
    if sets:
        labels = ModelVersion.objects.filter(pk__in=version_ids).values_list("pk", "label")
        _store(sets, dict(labels))


def dry_run_candidate(*, project, model, payload, results):
    """A dry run's gate results (``results``, the body's metrics) as the replicate sets a
    post of the body would make: the version's stored seeds on each series the run would go
    to, with the run as the latest run of its seed, summarised as ``record_replicate_sets``
    would. Unchanged for a body without a seed; nothing is written."""
    if payload["seed"] is None:
        return results
    version_id = (
        ModelVersion.objects.filter(model=model, label=payload["version"])
        .values_list("pk", flat=True)
        .first()
    )
    if version_id is None:  # a new version: the run would be its first seed
        return results
    series = dict(
        ((metric, slice), pk)
        for pk, metric, slice in Series.objects.filter(
            model=model, dataset__name=payload["dataset"]["name"],
            dataset__version=payload["dataset"]["version"],
            branch__name=branches.run_branch(project, payload),
            environment=payload["environment"],
            metric__name__in={result.metric for result in results},
        ).values_list("pk", "metric__name", "slice")
    )  # fmt: skip
    posted = {
        series[r.key]: (r.value, r.n, r.ci_low, r.ci_high) for r in results if r.key in series
    }
    if not posted:
        return results
    rows = _seeded_results([version_id], sorted(posted))
    at = payload["finished_at"] or timezone.now()
    # The run would be stored last: after every stored run of the same time.
    rows += [(series_id, version_id, payload["seed"], at, math.inf, *numbers)
             for series_id, numbers in posted.items()]  # fmt: skip
    members = _latest_per_seed(rows)
    _refuse_overfull(members, (
        ((series_id, version_id), payload["version"], metric, slice, payload["seed"])
        for (metric, slice), series_id in series.items()
    ))  # fmt: skip
    sets = _summaries(members)
    summaries = {
        key: sets[(series_id, version_id)].summary
        for key, series_id in series.items()
        if (series_id, version_id) in sets
    }
    return [selectors.as_set(result, summaries.get(result.key)) for result in results]


def _refuse_overfull(members, posted) -> None:
    """``TooManySeeds`` for the first posted result whose set would hold more than
    ``MAX_SEEDS`` seeds; ``posted``: ((series id, version id), version label, metric, slice,
    seed) of each; ``members``: ``_latest_per_seed``'s, the post included."""
    for key, version, metric, slice, seed in posted:
        if len(members.get(key, ())) > MAX_SEEDS:
            raise TooManySeeds(version=version, metric=metric, slice=slice, seed=seed)


class _Set(NamedTuple):
    run_id: int  # the latest member: the set's place in time
    recorded_at: object
    summary: replicates.Summary


def _summaries(members) -> dict:
    """{(series, version): _Set} of ``members`` (``_latest_per_seed``'s) that have two or more
    distinct seeds."""
    sets = {}
    for key, by_seed in members.items():
        if len(by_seed) < 2:
            continue
        at, run_id, *_ = max(by_seed.values(), key=lambda row: (row[0], row[1]))
        chosen = list(by_seed.values())
        summary = replicates.summarise(
            [row[2] for row in chosen],
            n=[row[3] for row in chosen],
            ci_low=[row[4] for row in chosen],
            ci_high=[row[5] for row in chosen],
        )
        sets[key] = _Set(run_id, at, summary)
    return sets


def _seeded_results(version_ids, series_ids):
    """(series, version, seed, recorded_at, run, value, n, ci_low, ci_high) of the versions'
    seeded runs on the series: from the versions' runs (an index) to their results on these
    series (the unique (run, series) index), never a scan of a series' history."""
    runs, results = EvaluationRun._meta.db_table, MetricResult._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT r.series_id, r.model_version_id, ru.seed, ru.recorded_at, ru.id, r.value,
                   r.n, r.ci_low, r.ci_high
            FROM {runs} AS ru JOIN {results} AS r ON r.run_id = ru.id
            WHERE ru.model_version_id IN ({", ".join(["%s"] * len(version_ids))})
              AND ru.seed IS NOT NULL
              AND r.series_id IN ({", ".join(["%s"] * len(series_ids))})
            """,
            [*version_ids, *series_ids],
        )
        rows = cursor.fetchall()
    # SQLite hands back the stored UTC times without their zone; PostgreSQL with it.
    return [(*row[:3], _aware(row[3]), *row[4:]) for row in rows]


def _aware(at):
    return timezone.make_aware(at, UTC) if timezone.is_naive(at) else at


def _latest_per_seed(rows):
    """{(series, version): {seed: (recorded_at, run, value, n, ci_low, ci_high)}}, the latest
    run of each seed."""
    sets = defaultdict(dict)
    for series_id, version_id, seed, at, run_id, *numbers in rows:
        by_seed = sets[(series_id, version_id)]
        if seed not in by_seed or (at, run_id) > by_seed[seed][:2]:
            by_seed[seed] = (at, run_id, *numbers)
    return sets


def _store(sets, labels):
    rows = []
    for (series_id, version_id), (run_id, at, s) in sorted(sets.items()):
        point = encode_replicate_point(labels[version_id], s, run_id, at).decode()
        rows.append(ReplicateSet(
            series_id=series_id, model_version_id=version_id, run_id=run_id, recorded_at=at,
            replicates=s.replicates, value=s.mean, sd=s.sd, n=s.n, ci_low=s.ci_low,
            ci_high=s.ci_high, point=point,
        ))  # fmt: skip
    ReplicateSet.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["series", "model_version"],
        update_fields=["run", "recorded_at", "replicates", "value", "sd", "n", "ci_low",
                       "ci_high", "point"],
    )  # fmt: skip
    series_ids = {series_id for series_id, _ in sets}
    Series.objects.filter(pk__in=series_ids, replicated=False).update(replicated=True)


def gate_candidate(run, results):
    """The gate's results of ``run`` with each result that belongs to a replicate set replaced
    by the set's summary (value its mean, sd its spread). The sets come from the post that
    stored the run, else (a stored run judged again) from the database, when it has a seed."""
    sets = getattr(run, "replicate_sets", None)
    if sets is None:
        return selectors.with_replicate_sets(run_id=run.pk, seed=run.seed, results=results)
    if not sets:
        return results
    by_key = {(r.series.metric.name, r.series.slice): r.series.pk for r in run.result_list}
    return [selectors.as_set(result, sets.get(by_key.get(result.key))) for result in results]
