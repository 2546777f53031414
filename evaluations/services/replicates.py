"""Seed replicates: a version's runs of distinct seeds on a series make one point, their mean
with their spread as its noise (``trackerclient.replicates``), kept as a ``ReplicateSet``.

Merged when written, not when read. A set changes only when one of its seeds is posted,
which is also when the gate must judge it; its reads are many (the series API, whose
5,000-point answer is stored text joined, the model page, each analysis job). So a post of a
seed summarises its sets once, in the transaction that stores it, and stores each set's point
as the series read answers it: the reads of a series without seeds (most of them: the flag
``Series.replicated`` says so) stay the queries they were, and those of a replicated series
add one anti-join. Nothing is lost: every run and result row is stored and listed as posted;
the set is derived, and written again with each seed.

A post without a seed costs nothing here. A post with one costs one read of its version's
seeded results on the posted series (the latest run of each seed: the same seed run again
replaces its earlier result in the set rather than counting twice) and, when two or more
distinct seeds are there, one upsert of the sets. The series' rows are already locked by the
post (``ingest._mark_dirty``), so concurrent seeds of one version are summarised one after
the other, each seeing the ones committed before it.
"""

from collections import defaultdict
from dataclasses import replace

from django.db import connection

from evaluations.models import EvaluationRun, MetricResult, ReplicateSet, Series
from evaluations.models.points import encode_replicate_point
from trackerclient import replicates


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
    summaries, rows = {}, []
    for (series_id, version_id), by_seed in members.items():
        if len(by_seed) < 2:
            continue
        latest = max(by_seed.values(), key=lambda row: (row[0], row[1]))
        chosen = list(by_seed.values())
        summary = replicates.summarise(
            [row[2] for row in chosen],
            n=[row[3] for row in chosen],
            ci_low=[row[4] for row in chosen],
            ci_high=[row[5] for row in chosen],
        )
        summaries[(series_id, version_id)] = summary
        rows.append((series_id, version_id, latest[1], latest[0], summary))
    if not rows:
        return
    _store(rows, {run.model_version_id: run.model_version.label for run in seeded})
    for run in seeded:
        run.replicate_sets = {
            r.series.pk: summaries[key]
            for r in run.result_list
            if (key := (r.series.pk, run.model_version_id)) in summaries
        }


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
        return cursor.fetchall()


def _latest_per_seed(rows):
    """{(series, version): {seed: (recorded_at, run, value, n, ci_low, ci_high)}}, the latest
    run of each seed."""
    sets = defaultdict(dict)
    for series_id, version_id, seed, at, run_id, *numbers in rows:
        by_seed = sets[(series_id, version_id)]
        if seed not in by_seed or (at, run_id) > by_seed[seed][:2]:
            by_seed[seed] = (at, run_id, *numbers)
    return sets


def _store(rows, labels):
    sets = [
        ReplicateSet(
            series_id=series_id, model_version_id=version_id, run_id=run_id, recorded_at=at,
            replicates=s.replicates, value=s.mean, sd=s.sd, n=s.n, ci_low=s.ci_low,
            ci_high=s.ci_high,
            point=encode_replicate_point(labels[version_id], s, run_id, at).decode(),
        )
        for series_id, version_id, run_id, at, s in sorted(rows, key=lambda row: row[:2])
    ]  # fmt: skip
    ReplicateSet.objects.bulk_create(
        sets,
        update_conflicts=True,
        unique_fields=["series", "model_version"],
        update_fields=["run", "recorded_at", "replicates", "value", "sd", "n", "ci_low",
                       "ci_high", "point"],
    )  # fmt: skip
    Series.objects.filter(pk__in={row[0] for row in rows}, replicated=False).update(replicated=True)


def gate_candidate(run, results):
    """The gate's results of ``run`` with each result that belongs to a replicate set replaced
    by the set's summary (value its mean, sd its spread). The sets come from the post that
    stored the run, else (a stored run judged again) from the database, when it has a seed."""
    sets = getattr(run, "replicate_sets", None)
    if sets is None:
        if run.seed is None:
            return results
        return with_replicate_sets(run_id=run.pk, results=results)
    if not sets:
        return results
    by_key = {(r.series.metric.name, r.series.slice): r.series.pk for r in run.result_list}
    return [_as_set(result, sets.get(by_key.get(result.key))) for result in results]


def with_replicate_sets(*, run_id, results):
    """A stored run's results for the gate (a pinned run's, or a run judged again), as
    replicate sets where its version has them."""
    sets = stored_sets(run_id=run_id)
    return [_as_set(result, sets.get(result.key)) for result in results]


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


def _as_set(result, summary):
    if summary is None:
        return result
    return replace(
        result, value=summary.mean, sd=summary.sd, replicates=summary.replicates,
        n=summary.n, ci_low=summary.ci_low, ci_high=summary.ci_high, outcomes=None,
    )  # fmt: skip
