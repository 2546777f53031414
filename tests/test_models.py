"""Database constraints that keep the history right even past the API."""

import math
from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

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


@pytest.fixture
def run(project):
    model = RegisteredModel.objects.create(project=project, name="m")
    version = ModelVersion.objects.create(model=model, label="1")
    dataset = EvaluationDataset.objects.create(project=project, name="d")
    return EvaluationRun.objects.create(
        project=project, model_version=version, dataset=dataset, payload_digest="x"
    )


@pytest.fixture
def series(run):
    metric = MetricDefinition.objects.create(
        project=run.project, name="accuracy", direction="higher_is_better"
    )
    branch = Branch.objects.create(model=run.model_version.model, name="main")
    return Series.objects.create(
        model=run.model_version.model, dataset=run.dataset, metric=metric, slice="overall",
        branch=branch,
    )  # fmt: skip


def add_result(run, series, **fields):
    fields.setdefault("value", 0.9)
    return MetricResult.objects.create(
        run=run,
        series=series,
        model_version=run.model_version,
        recorded_at=timezone.now(),
        **fields,
    )


def refused(create):
    with pytest.raises(IntegrityError), transaction.atomic():
        create()


def test_one_result_per_run_metric_and_slice(run, series):
    add_result(run, series)

    refused(lambda: add_result(run, series, value=0.5))


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
@pytest.mark.postgres
def test_result_values_must_be_finite(run, series, value):
    refused(lambda: add_result(run, series, value=value))


def test_interval_must_be_ordered(run, series):
    refused(lambda: add_result(run, series, ci_low=0.95, ci_high=0.9))
    add_result(run, series, ci_low=0.9, ci_high=0.95)


def test_names_are_unique_where_they_identify(project, run, series):
    refused(lambda: RegisteredModel.objects.create(project=project, name="m"))
    refused(lambda: ModelVersion.objects.create(model=run.model_version.model, label="1"))
    refused(lambda: EvaluationDataset.objects.create(project=project, name="d", version=""))
    refused(
        lambda: MetricDefinition.objects.create(
            project=project, name="accuracy", direction="higher_is_better"
        )
    )
    refused(
        lambda: Series.objects.create(
            model=series.model,
            dataset=series.dataset,
            metric=series.metric,
            slice="overall",
            branch=series.branch,
        )
    )
    refused(lambda: Branch.objects.create(model=series.model, name="main"))
    # The same metric and slice on another branch, or in another environment, is another series.
    Series.objects.create(
        model=series.model, dataset=series.dataset, metric=series.metric, slice="overall",
        branch=series.branch, environment="canary",
    )  # fmt: skip
    Series.objects.create(
        model=series.model, dataset=series.dataset, metric=series.metric, slice="overall",
        branch=Branch.objects.create(model=series.model, name="feature"),
    )  # fmt: skip
    EvaluationDataset.objects.create(project=project, name="d", version="v2")


def test_external_id_is_unique_per_project_but_may_be_absent(run):
    EvaluationRun.objects.filter(pk=run.pk).update(external_id="ci-1")
    again = dict(
        project=run.project, model_version=run.model_version, dataset=run.dataset,
        payload_digest="y",
    )  # fmt: skip

    refused(lambda: EvaluationRun.objects.create(external_id="ci-1", **again))
    EvaluationRun.objects.create(external_id=None, **again)
    EvaluationRun.objects.create(external_id=None, **again)


def test_run_cannot_finish_before_it_starts(run):
    now = timezone.now()

    refused(
        lambda: EvaluationRun.objects.filter(pk=run.pk).update(
            started_at=now, finished_at=now - timedelta(seconds=1)
        )
    )
