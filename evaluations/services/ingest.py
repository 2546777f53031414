"""Storing evaluation runs that CI posts.

Each post (or batch of posts) is one transaction: every row is written or none is. Models,
versions, datasets, metrics and series are created on first sight with
``INSERT ... ON CONFLICT DO NOTHING`` followed by a read, so concurrent posts that introduce
the same new version create it once. A run with an ``external_id`` is stored once: a replay
with the same body returns the stored run, a different body is a conflict.
"""

import hashlib
import json
import logging
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from evaluations import metric_catalog
from evaluations.models import (
    EvaluationDataset,
    EvaluationRun,
    MetricDefinition,
    MetricResult,
    ModelVersion,
    RegisteredModel,
    Series,
)
from evaluations.tasks import analyse_series

log = logging.getLogger(__name__)


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

    def as_errors(self):
        return self.errors


def ingest_run(*, project, payload) -> IngestOutcome:
    """Store one validated run body (see ``RunInputSerializer``)."""
    return ingest_runs(project=project, payloads=[payload])[0]


def ingest_runs(*, project, payloads) -> list[IngestOutcome]:
    """Store validated run bodies, all or none, and schedule analysis of touched series."""
    digests = [payload_digest(payload) for payload in payloads]
    try:
        with transaction.atomic():
            return _store(project, payloads, digests)
    except IntegrityError as exc:
        # Another post with the same external_id committed between our read and our
        # insert: run again, and the replay path now finds its run.
        if "run_unique_external_id" not in str(exc):
            raise
        with transaction.atomic():
            return _store(project, payloads, digests)


def payload_digest(payload) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _store(project, payloads, digests):
    outcomes, fresh = _resolve_replays(project, payloads, digests)
    if fresh:
        runs = _create_runs(project, [payloads[i] for i in fresh], [digests[i] for i in fresh])
        for index, run in zip(fresh, runs, strict=False):
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
        stored = {
            run.external_id: run
            for run in EvaluationRun.objects.filter(project=project, external_id__in=external_ids)
        }
    outcomes, fresh, first_seen = [None] * len(payloads), [], {}
    for index, (payload, digest) in enumerate(zip(payloads, digests, strict=False)):
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
    models = _ensure(
        RegisteredModel, {"project": project}, ("name",), {(p["model"],): {} for p in payloads}
    )
    versions = _ensure_versions(models, payloads)
    datasets = _ensure_datasets(project, payloads)
    metrics = _ensure_metrics(project, payloads)

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
                branch=p["branch"],
                ci_url=p["ci_url"],
                metadata=p["metadata"],
                external_id=p["external_id"],
                payload_digest=digest,
                created_at=now,
            )
            for p, digest in zip(payloads, digests, strict=False)
        ]
    )

    wanted_series = {}
    for run, payload in zip(runs, payloads, strict=False):
        for metric in payload["metrics"]:
            key = _series_key(run, metrics[(metric["name"],)], metric["slice"])
            wanted_series[key] = {"touched_at": now}
    series = _ensure(Series, {}, ("model_id", "dataset_id", "metric_id", "slice"), wanted_series)
    MetricResult.objects.bulk_create(
        [
            MetricResult(
                run=run,
                series=series[_series_key(run, metrics[(m["name"],)], m["slice"])],
                value=m["value"],
                n=m.get("n"),
                ci_low=m.get("ci_low"),
                ci_high=m.get("ci_high"),
                recorded_at=run.recorded_at,
            )
            for run, payload in zip(runs, payloads, strict=False)
            for m in payload["metrics"]
        ],
        batch_size=5000,
    )
    touched = sorted(row.pk for row in series.values())
    Series.objects.filter(pk__in=touched).update(dirty=True, touched_at=now)
    transaction.on_commit(lambda: _schedule_analysis(touched), robust=True)
    return runs


def _series_key(run, metric, slice_name):
    return (run.model_version.model_id, run.dataset.pk, metric.pk, slice_name)


def _dataset_key(payload):
    return (payload["dataset"]["name"], payload["dataset"]["version"])


def _ensure_versions(models, payloads):
    wanted = {}
    for p in payloads:
        key = (models[(p["model"],)].pk, p["version"])
        wanted.setdefault(key, {"commit": p["commit"], "branch": p["branch"]})
    versions = _ensure(ModelVersion, {}, ("model_id", "label"), wanted)
    by_pk = {model.pk: model for model in models.values()}
    for version in versions.values():
        version.model = by_pk[version.model_id]
    return versions


def _ensure_datasets(project, payloads):
    wanted = {}
    for p in payloads:
        wanted.setdefault(_dataset_key(p), {"size": p["dataset"].get("size")})
    datasets = _ensure(EvaluationDataset, {"project": project}, ("name", "version"), wanted)
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
    metrics = _ensure(MetricDefinition, {"project": project}, ("name",), wanted)
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


def _ensure(model_cls, scope, key_fields, wanted):
    """Rows of ``model_cls`` for every key in ``wanted`` (key -> defaults), creating the
    missing ones. Safe under concurrency: a row another transaction is inserting makes our
    insert wait, do nothing, and the read that follows sees it."""
    found = _fetch(model_cls, scope, key_fields, wanted.keys())
    missing = [key for key in wanted if key not in found]
    if missing:
        model_cls.objects.bulk_create(
            [
                model_cls(**scope, **dict(zip(key_fields, key, strict=False)), **wanted[key])
                for key in missing
            ],
            ignore_conflicts=True,
        )
        found.update(_fetch(model_cls, scope, key_fields, missing))
    return found


def _fetch(model_cls, scope, key_fields, keys):
    keys = set(keys)
    filters = {f"{field}__in": {key[i] for key in keys} for i, field in enumerate(key_fields)}
    rows = model_cls.objects.filter(**scope, **filters)
    found = {}
    for row in rows:
        key = tuple(getattr(row, field) for field in key_fields)
        if key in keys:
            found[key] = row
    return found


def _schedule_analysis(series_ids):
    for series_id in series_ids:
        analyse_series.delay(series_id)
