"""Storing evaluation runs that CI posts.

Each post (or batch of posts) is one transaction: every row is written or none is. Models,
versions, datasets, metrics and series are created on first sight (``rows.ensure``), so
concurrent posts that introduce the same new version create it once. A run with an
``external_id`` is stored once: a replay with the same body returns the stored run, a
different body is a conflict. Storing marks the touched series dirty and, after the commit,
queues their analysis.
"""

import hashlib
import io
import json
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from evaluations import selectors
from evaluations.models import (
    Branch,
    EvaluationDataset,
    EvaluationRun,
    MetricDefinition,
    MetricResult,
    ModelVersion,
    RegisteredModel,
    Series,
)
from evaluations.models.points import point_encoder
from evaluations.queue import queue_analysis
from evaluations.services import branches, replicates, rows
from trackerclient import metric_catalog


@dataclass(slots=True)
class StoredResult:
    """A result as ingest stored it: what the gate, the findings and the answer read from it,
    without building a ``MetricResult`` per result (``_insert_results`` writes the rows)."""

    series: Series
    value: float
    n: int | None
    n_pos: int | None
    n_neg: int | None
    ci_low: float | None
    ci_high: float | None
    outcomes: bytes | None


@dataclass
class IngestOutcome:
    run: EvaluationRun
    created: bool


class IngestConflict(Exception):
    """The body contradicts what the project already holds; ``errors`` names the fields."""

    def __init__(self, errors):
        super().__init__(errors)
        self.errors = errors


class ReplayConflict(IngestConflict):
    def __init__(self, external_id, run_id):
        self.external_id, self.run_id = external_id, run_id
        super().__init__(
            {
                "external_id": [
                    f"'{external_id}' is already stored as run {run_id} with a different body."
                ],
                "run_id": run_id,
            }
        )


def ingest_run(*, project, payload) -> IngestOutcome:
    """Store one validated run body (see ``RunInputSerializer``)."""
    return ingest_runs(project=project, payloads=[payload])[0]


def ingest_runs(*, project, payloads) -> list[IngestOutcome]:
    """Store validated run bodies, all or none, and schedule analysis of touched series."""
    digests = [payload_digest(payload) for payload in payloads]
    try:
        return _store_atomically(project, payloads, digests)
    except IntegrityError:
        # Either another post with the same external_id committed between our read and
        # our insert (run again: the replay path now finds its run), or a remembered row
        # was deleted meanwhile (run again without the remembered rows).
        return _store_atomically(project, payloads, digests)


def _store_atomically(project, payloads, digests):
    try:
        with transaction.atomic():
            return _store(project, payloads, digests)
    except IntegrityError:
        # Perhaps a remembered row was deleted meanwhile: forget them all.
        rows.forget_all()
        raise


def payload_digest(payload) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _store(project, payloads, digests):
    outcomes, fresh = _resolve_replays(project, payloads, digests)
    if fresh:
        runs = _create_runs(project, [payloads[i] for i in fresh], [digests[i] for i in fresh])
        for index, run in zip(fresh, runs, strict=True):
            outcomes[index] = IngestOutcome(run=run, created=True)
    for index, outcome in enumerate(outcomes):
        if isinstance(outcome, int):  # a repeat, inside this batch, of an earlier entry
            outcomes[index] = IngestOutcome(run=outcomes[outcome].run, created=False)
    return outcomes


def _resolve_replays(project, payloads, digests):
    """Outcomes for replays of stored runs, and the indexes of the payloads to create."""
    external_ids = [p["external_id"] for p in payloads if p["external_id"] is not None]
    stored = {}
    if external_ids:
        replayed = selectors.runs_for(project=project).filter(external_id__in=external_ids)
        stored = {run.external_id: run for run in replayed}
    outcomes, fresh, first_seen = [None] * len(payloads), [], {}
    for index, (payload, digest) in enumerate(zip(payloads, digests, strict=True)):
        external_id = payload["external_id"]
        if external_id in stored:
            run = stored[external_id]
            if run.payload_digest != digest:
                raise ReplayConflict(external_id, run.pk)
            outcomes[index] = IngestOutcome(run=run, created=False)
        elif external_id is not None and external_id in first_seen:
            earlier = first_seen[external_id]
            if digests[earlier] != digest:
                raise IngestConflict(
                    {
                        "runs": [
                            f"runs[{index}]: external_id '{external_id}' repeats "
                            f"runs[{earlier}] with a different body."
                        ]
                    }
                )
            outcomes[index] = earlier
        else:
            if external_id is not None:
                first_seen[external_id] = index
            fresh.append(index)
    return outcomes, fresh


def _create_runs(project, payloads, digests):
    now = timezone.now()
    models = rows.ensure(
        RegisteredModel, {"project": project}, ("name",), {(p["model"],): {} for p in payloads}
    )
    for model in models.values():
        model.project = project  # this request's: its branch settings are current
    versions = _ensure_versions(models, payloads)
    datasets = _ensure_datasets(project, payloads)
    metrics = _ensure_metrics(project, payloads)
    branch_rows = _ensure_branches(project, models, payloads)

    runs = EvaluationRun.objects.bulk_create(
        [
            EvaluationRun(
                project=project,
                model_version=versions[(models[(p["model"],)].pk, p["version"])],
                dataset=datasets[_dataset_key(p)],
                environment=p["environment"],
                seed=p["seed"],
                started_at=p["started_at"],
                finished_at=p["finished_at"],
                recorded_at=p["finished_at"] or now,
                commit=p["commit"],
                branch=branches.run_branch(project, p),
                base_branch=branches.base_branch(project, p),
                ci_url=p["ci_url"],
                metadata=p["metadata"],
                external_id=p["external_id"],
                payload_digest=digest,
                created_at=now,
            )
            for p, digest in zip(payloads, digests, strict=True)
        ]
    )

    wanted_series = {}
    for run in runs:
        run.branch_row = branch_rows[(run.model_version.model_id, run.branch)]
    keys = [
        _series_keys(run, payload, metrics) for run, payload in zip(runs, payloads, strict=True)
    ]
    for run_keys in keys:
        for key in run_keys:
            # Watched from the first post on, when its branch is (_mark_dirty).
            wanted_series[key] = {"touched_at": now, "watched": False}
    series = rows.ensure(Series, {}, SERIES_KEY, wanted_series)
    metric_by_pk = {metric.pk: metric for metric in metrics.values()}
    for row in series.values():
        if not Series.metric.is_cached(row):  # remembered series have theirs
            row.metric = metric_by_pk[row.metric_id]
    for run, payload, run_keys in zip(runs, payloads, keys, strict=True):
        run.result_list = [  # what the gate and the answer read, without reading it back
            StoredResult(  # in the order of its fields (positional: a thousand per post)
                series[key],
                m["value"],
                m.get("n"),
                m.get("n_pos"),
                m.get("n_neg"),
                m.get("ci_low"),
                m.get("ci_high"),
                m.get("outcomes"),
            )
            for m, key in zip(payload["metrics"], run_keys, strict=True)
        ]
    _insert_results(runs)
    watched, needing_job = _mark_dirty(project, [row.pk for row in series.values()], now)
    for row in series.values():
        row.watched = row.pk in watched
    unwatched = [row.pk for row in series.values() if not row.watched]
    # A series read caches by touched_at: a new point must move it.
    touched = Series.objects.filter(pk__in=unwatched).update(touched_at=now) if unwatched else 0
    if len(watched) + touched != len(series):
        # A series this process remembered was deleted since (with its model or project): no
        # result may point at it (the results have no constraint to say so). Every series is
        # locked now until commit; the caller forgets what it remembered and tries again.
        raise IntegrityError("a series of these runs was deleted meanwhile")
    # After the series' rows are locked: concurrent seeds of a version summarise in turn.
    replicates.record_replicate_sets(runs=runs)
    if needing_job:
        transaction.on_commit(lambda: _schedule_analysis(needing_job), robust=True)
    return runs


# The results table's columns as _result_rows writes them (tests/test_ingest_copy.py checks that
# they are every column but the id).
RESULT_COLUMNS = (
    "run_id", "series_id", "model_version_id", "value", "n", "n_pos", "n_neg", "ci_low",
    "ci_high", "outcomes", "recorded_at", "point",
)  # fmt: skip


def _insert_results(runs):
    """Write the runs' results (``run.result_list``) in one statement per 5,000 rows, or one
    COPY on PostgreSQL: set-based, with no ORM object or compiled insert per result."""
    rows = _result_rows(runs)
    table = MetricResult._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with connection.wrap_database_errors:
                cursor.cursor.copy_expert(
                    f"COPY {table} ({', '.join(RESULT_COLUMNS)}) FROM STDIN",
                    io.StringIO(_copy_text(rows)),
                )
            return
        sql = (
            f"INSERT INTO {table} ({', '.join(RESULT_COLUMNS)}) "
            f"VALUES ({', '.join(['%s'] * len(RESULT_COLUMNS))})"
        )
        for start in range(0, len(rows), 5000):
            cursor.executemany(sql, rows[start : start + 5000])


def _result_rows(runs):
    """One tuple per result, in RESULT_COLUMNS' order, with its point as the series API
    writes it (models/points.py)."""
    rows = []
    for run in runs:
        version, at = run.model_version, run.recorded_at
        point = point_encoder(version.label, run.pk, at)
        rows += [
            (run.pk, r.series.pk, version.pk, r.value, r.n, r.n_pos, r.n_neg, r.ci_low,
             r.ci_high, r.outcomes, at, point(r.value, r.n, r.ci_low, r.ci_high))
            for r in run.result_list
        ]  # fmt: skip
    return rows


def _copy_text(rows):
    """The rows in COPY's text format: tab-separated, \\N for NULL, backslashes doubled (a
    point's JSON holds no tab or newline: JSON escapes them), bytea as hex."""
    null, times, lines = _NULL, {}, []
    for run, series, version, value, n, n_pos, n_neg, low, high, outcomes, at, point in rows:
        if at not in times:  # the rows of a run share its time
            times[at] = at.isoformat()
        lines.append(
            f"{run}\t{series}\t{version}\t{value!r}\t{null if n is None else repr(n)}\t"
            f"{null if n_pos is None else repr(n_pos)}\t{null if n_neg is None else repr(n_neg)}\t"
            f"{null if low is None else repr(low)}\t{null if high is None else repr(high)}\t"
            f"{null if outcomes is None else _HEX + outcomes.hex()}\t{times[at]}\t"
            f"{point.replace(_BACKSLASH, _ESCAPED)}\n"
        )
    return "".join(lines)


_NULL, _HEX, _BACKSLASH, _ESCAPED = "\\N", "\\\\x", "\\", "\\\\"


def _mark_dirty(project, series_ids, now):
    """Mark the watched series among ``series_ids`` due; answer (the watched ones, those
    that were clean: they need a job queued).

    A series is watched when its branch is (the default, a long-lived one, or any with the
    project's ``analyse_every_branch``), as the branch table says now: other processes may
    have marked a branch long-lived since this one remembered it. Every post bumps
    ``generation``, so a job that read the series before this post does not mark it analysed;
    ``due_since`` and ``queued_at`` move only when it was clean, so a busy series whose job
    was lost is still swept. The rows stay locked until commit (as an update locks them: rows
    that merely refer to a series may still be written meanwhile); locking in id order keeps
    concurrent posts free of deadlocks.
    """
    if connection.vendor == "postgresql":
        # Locked first, alone (rows.lock_in_order): the update then finds every row as it
        # left it, with nothing to check again.
        was_dirty = dict(rows.lock_in_order(Series, series_ids, ("id", "dirty")))
        table, branches_table = Series._meta.db_table, Branch._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                UPDATE {table} AS s SET dirty = true, touched_at = %s, watched = true,
                    generation = s.generation + 1,
                    due_since = CASE WHEN s.dirty THEN s.due_since ELSE %s END,
                    queued_at = CASE WHEN s.dirty THEN s.queued_at ELSE %s END
                FROM {branches_table} b
                WHERE s.id = ANY(%s) AND b.id = s.branch_id
                    AND (b.long_lived OR b.name = %s OR %s)
                RETURNING s.id
                """,
                [now, now, now, list(series_ids), project.default_branch,
                 project.analyse_every_branch],
            )  # fmt: skip
            watched = {pk for (pk,) in cursor.fetchall()}
        return watched, sorted(pk for pk in watched if not was_dirty[pk])
    watched = Q(branch__long_lived=True) | Q(branch__name=project.default_branch)
    if project.analyse_every_branch:
        watched = Q()
    flags = list(
        Series.objects.select_for_update()
        .filter(watched, pk__in=series_ids)
        .order_by("pk")
        .values_list("pk", "dirty")
    )
    was_clean = [pk for pk, dirty in flags if not dirty]
    Series.objects.filter(pk__in=was_clean).update(due_since=now, queued_at=now)
    Series.objects.filter(pk__in=[pk for pk, _ in flags]).update(
        dirty=True, watched=True, touched_at=now, generation=F("generation") + 1
    )
    return {pk for pk, _ in flags}, was_clean


SERIES_KEY = ("model_id", "dataset_id", "metric_id", "slice", "branch_id", "environment")


def _series_keys(run, payload, metrics):
    """The SERIES_KEY of each of the run's results, in the order posted."""
    model_id, dataset_id = run.model_version.model_id, run.dataset.pk
    branch_id, environment = run.branch_row.pk, run.environment
    return [
        (model_id, dataset_id, metrics[(m["name"],)].pk, m["slice"], branch_id, environment)
        for m in payload["metrics"]
    ]


def _ensure_branches(project, models, payloads):
    """The branches the runs go to, by (model id, name); a new branch is long-lived when its
    name matches the project's patterns."""
    wanted = {}
    for p in payloads:
        name = branches.run_branch(project, p)
        key = (models[(p["model"],)].pk, name)
        wanted.setdefault(key, {"long_lived": branches.is_long_lived(project, name)})
    return rows.ensure(Branch, {}, ("model_id", "name"), wanted)


def _dataset_key(payload):
    return (payload["dataset"]["name"], payload["dataset"]["version"])


def _ensure_versions(models, payloads):
    wanted = {}
    for p in payloads:
        key = (models[(p["model"],)].pk, p["version"])
        wanted.setdefault(key, {"commit": p["commit"], "branch": p["branch"]})
    # CI posts mostly introduce a version: insert first rather than look it up first.
    versions = rows.ensure(ModelVersion, {}, ("model_id", "label"), wanted, usually_new=True)
    by_pk = {model.pk: model for model in models.values()}
    for version in versions.values():
        version.model = by_pk[version.model_id]
    return versions


def _ensure_datasets(project, payloads):
    wanted = {}
    for p in payloads:
        wanted.setdefault(_dataset_key(p), {"size": p["dataset"].get("size")})
    scope = {"project": project}
    # Another process may have set the size a remembered row lacks: read it afresh.
    rows.forget(
        EvaluationDataset,
        scope,
        [key for key, row in rows.remembered(EvaluationDataset, scope, wanted).items()
         if wanted[key]["size"] is not None and row.size != wanted[key]["size"]],
    )  # fmt: skip
    datasets = rows.ensure(EvaluationDataset, scope, ("name", "version"), wanted)
    for p in payloads:
        dataset, size = datasets[_dataset_key(p)], p["dataset"].get("size")
        if size is None or dataset.size == size:
            continue
        if dataset.size is not None:
            raise IngestConflict(
                {
                    "dataset": {
                        "size": [
                            f"{dataset} is registered with size {dataset.size}, "
                            f"not {size}; a changed dataset needs a new version."
                        ]
                    }
                }
            )
        EvaluationDataset.objects.filter(pk=dataset.pk, size__isnull=True).update(size=size)
        dataset.size = size
    return datasets


def _ensure_metrics(project, payloads):
    wanted = {}
    for p in payloads:
        for m in p["metrics"]:
            if (m["name"],) not in wanted:
                defaults = metric_catalog.defaults_for(m["name"])
                wanted[(m["name"],)] = {
                    "direction": m.get("direction") or defaults.direction,
                    "kind": m.get("kind") or defaults.kind,
                    "unit": m.get("unit") if m.get("unit") is not None else defaults.unit,
                }
    metrics = rows.ensure(MetricDefinition, {"project": project}, ("name",), wanted)
    for p in payloads:
        for index, m in enumerate(p["metrics"]):
            stored = metrics[(m["name"],)]
            if m.get("direction") and m["direction"] != stored.direction:
                raise IngestConflict(
                    {
                        "metrics": [
                            f"metrics[{index}].direction: {stored.name} is "
                            f"{stored.direction} in this project, not {m['direction']}."
                        ]
                    }
                )
    return metrics


def _schedule_analysis(series_ids):
    # One message per job (not per series): a publish costs as much as the rest of a post.
    # The short delay lets a burst of posts (one version's datasets and slices, a backfill)
    # land before the analysis: they find the series dirty and queue nothing more.
    queue_analysis(series_ids, countdown=settings.ANALYSIS_DELAY_SECONDS)
