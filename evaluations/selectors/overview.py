"""The project overview: each model's latest version, the gate's verdict on its latest run,
its ongoing findings and a sparkline of its headline metric."""

from dataclasses import dataclass, field

from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce

from evaluations.models import EvaluationRun, Finding, RegisteredModel, Series
from evaluations.selectors.findings import findings_for
from evaluations.selectors.runs import runs_for
from evaluations.selectors.series import series_points

# The metric a model is summed up by: the first of these it has, else its first by name.
HEADLINE_METRICS = (
    "accuracy", "f1", "auc_roc", "r2", "rmse", "mae", "bleu", "rouge_l", "rougeL",
    "bertscore_f1", "bertscore", "perplexity", "latency_p95_ms", "latency_p95",
)  # fmt: skip
SPARKLINE_POINTS = 30


@dataclass
class ModelSummary:
    model: RegisteredModel
    latest_run: EvaluationRun | None = None
    active_findings: int = 0
    headline: Series | None = None
    sparkline: list = field(default_factory=list)  # the latest values, oldest first


def project_overview(*, project) -> list[ModelSummary]:
    """Each model as its main line stands: the latest offline run on the default branch (a
    newer pull request's run is not the model's state), else its latest run of any line."""
    latest = EvaluationRun.objects.filter(model_version__model=OuterRef("pk")).order_by(
        "-recorded_at", "-id"
    )
    on_main = latest.filter(branch=project.default_branch, environment="offline")
    models = list(
        RegisteredModel.objects.filter(project=project)
        .annotate(
            version_count=Count("versions"),
            latest_run_id=Coalesce(
                Subquery(on_main.values("pk")[:1]), Subquery(latest.values("pk")[:1])
            ),
        )
        .order_by("name")
    )
    runs = {
        run.pk: run
        for run in runs_for(project=project).filter(pk__in=[m.latest_run_id for m in models])
    }
    active = dict(
        Finding.objects.filter(series__model__project=project, status__in=Finding.ACTIVE)
        .values_list("series__model_id")
        .annotate(count=Count("id"))
    )
    summaries = []
    for model in models:
        summary = ModelSummary(model, runs.get(model.latest_run_id), active.get(model.pk, 0))
        if summary.latest_run is not None:
            summary.headline = _headline_series(summary.latest_run)
        if summary.headline is not None:
            points = series_points(series=summary.headline, limit=SPARKLINE_POINTS)
            summary.sparkline = [point["value"] for point in points]
        summaries.append(summary)
    return summaries


def _headline_series(run) -> Series | None:
    overall = {
        r.series.metric.name: r.series for r in run.result_list if r.series.slice == "overall"
    }
    if not overall:
        return None
    for name in HEADLINE_METRICS:
        if name in overall:
            return overall[name]
    return overall[min(overall)]


def active_findings(*, project, limit=50):
    """The project's ongoing findings, the most recently seen first."""
    return findings_for(project=project).filter(status__in=Finding.ACTIVE)[:limit]
