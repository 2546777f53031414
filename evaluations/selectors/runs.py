"""Reads of runs, models and versions."""

from datetime import datetime
from typing import NamedTuple

from django.db import connection
from django.db.models import Count, F, OuterRef, Prefetch, Subquery, Window
from django.db.models.functions import RowNumber
from django.http import Http404

from evaluations.models import (
    EvaluationDataset,
    EvaluationRun,
    MetricResult,
    ModelVersion,
    RegisteredModel,
)

from .run_results import results_json


def runs_listed(*, project):
    """A project's runs, newest first: what the runs list filters and pages, before
    ``run_rows`` reads a page of them."""
    return EvaluationRun.objects.filter(project=project).order_by("-recorded_at", "-id")


class RunRow(NamedTuple):
    """A run as the runs list shows it: its fields, and its results as a JSON array."""

    id: int
    model: str
    version: str
    commit: str
    branch: str
    base_branch: str
    dataset_name: str
    dataset_version: str
    dataset_size: int | None
    environment: str
    external_id: str | None
    seed: int | None
    started_at: datetime | None
    finished_at: datetime | None
    recorded_at: datetime
    created_at: datetime
    ci_url: str
    metadata: dict
    results: bytes


_RUN_FIELDS = (
    "pk", "model_version__model__name", "model_version__label", "commit", "branch",
    "base_branch", "dataset__name", "dataset__version", "dataset__size", "environment",
    "external_id", "seed", "started_at", "finished_at", "recorded_at", "created_at", "ci_url",
    "metadata",
)  # fmt: skip

# _RUN_FIELDS in SQL: for a page of 100 runs, building the query and converting its rows
# costs the ORM 3.4 ms of CPU, against 1.2 ms read directly.
_RUN_SQL = f"""
    SELECT r.id, m.name, v.label, r.commit, r.branch, r.base_branch, d.name, d.version, d.size,
           r.environment, r.external_id, r.seed, r.started_at, r.finished_at, r.recorded_at,
           r.created_at, r.ci_url, r.metadata
    FROM {EvaluationRun._meta.db_table} AS r
    JOIN {ModelVersion._meta.db_table} AS v ON v.id = r.model_version_id
    JOIN {RegisteredModel._meta.db_table} AS m ON m.id = v.model_id
    JOIN {EvaluationDataset._meta.db_table} AS d ON d.id = r.dataset_id
    WHERE r.id = ANY(%s)
"""


def run_rows(*, run_ids) -> list[RunRow]:
    """The runs ``run_ids`` names (a page of the runs list), in that order, in two queries
    whatever their number and size: plain rows, and each run's results as JSON written by
    the database or cached (``run_results``), never an object per result."""
    fields = {row[0]: row for row in _run_fields(list(run_ids))}
    created_at = RunRow._fields.index("created_at")
    results = results_json(runs={pk: row[created_at] for pk, row in fields.items()})
    # A run deleted since the page's ids were read is left out, as if it had been before.
    return [RunRow(*fields[pk], results.get(pk, b"[]")) for pk in run_ids if pk in fields]


def _run_fields(run_ids):
    if connection.vendor != "postgresql" or not run_ids:
        return EvaluationRun.objects.filter(pk__in=run_ids).values_list(*_RUN_FIELDS)
    with connection.cursor() as cursor:
        cursor.execute(_RUN_SQL, [run_ids])
        rows = cursor.fetchall()
    # The metadata as the ORM reads it: the JSON text decoded by the field.
    metadata = EvaluationRun._meta.get_field("metadata")
    return [(*row[:-1], metadata.from_db_value(row[-1], None, connection)) for row in rows]


def runs_for(*, project):
    """A project's runs, newest first, with everything a run's answer shows. Not the
    per-example outcomes: 125 kB per million examples, which only the gate reads (with
    selectors.gate_results, once per run)."""
    results = (
        MetricResult.objects.select_related("series__metric")
        .defer("outcomes")
        .order_by("series__metric__name", "series__slice")
    )
    return (
        runs_listed(project=project)
        .select_related("model_version__model__project", "dataset")
        .prefetch_related(Prefetch("results", queryset=results, to_attr="result_list"))
    )


def get_run(*, project, run_id) -> EvaluationRun:
    run = runs_for(project=project).filter(pk=run_id).first()
    if run is None:
        raise Http404(f"No run {run_id} in this project.")
    return run


def models_for(*, project):
    latest = ModelVersion.objects.filter(model=OuterRef("pk")).order_by("-first_seen_at", "-id")
    return (
        RegisteredModel.objects.filter(project=project)
        .annotate(
            version_count=Count("versions"),
            latest_version_label=Subquery(latest.values("label")[:1]),
            latest_version_at=Subquery(latest.values("first_seen_at")[:1]),
        )
        .order_by("name")
    )


def find_model(*, project, name) -> RegisteredModel | None:
    if "\x00" in name:  # from a URL; no name holds one, and PostgreSQL would refuse the query
        return None
    model = RegisteredModel.objects.filter(project=project, name=name).first()
    if model is not None:
        model.project = project  # the caller's: its branch settings are what it just read
    return model


def get_model(*, project, name) -> RegisteredModel:
    model = find_model(project=project, name=name)
    if model is None:
        raise Http404(f"No model named '{name}' in this project.")
    return model


def versions_for(*, model):
    return (
        ModelVersion.objects.filter(model=model)
        .annotate(run_count=Count("runs"))
        .order_by("-first_seen_at", "-id")
    )


def latest_runs_per_dataset(*, model, dataset_name=""):
    """The latest run of ``model`` on each dataset version and branch (on datasets named
    ``dataset_name`` only, when given), with everything a run's answer shows: the runs whose
    verdicts and threshold findings stand for their series now."""
    runs = EvaluationRun.objects.filter(model_version__model=model)
    if dataset_name:
        runs = runs.filter(dataset__name=dataset_name)
    latest_ids = (
        runs.annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("dataset_id"), F("branch"), F("environment")],
                order_by=[F("recorded_at").desc(), F("id").desc()],
            )
        )
        .filter(rank=1)
        .values_list("pk", flat=True)
    )
    return list(runs_for(project=model.project).filter(pk__in=list(latest_ids)).order_by("pk"))
