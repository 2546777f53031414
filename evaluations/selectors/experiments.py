"""Reads of online comparisons for the pages: a project's experiments with their current
decision, and one experiment's timeline (every decision with the cumulative per-arm figures
it was taken on), shaped for its chart."""

from django.db.models import F, Window
from django.db.models.functions import RowNumber
from django.http import Http404

from evaluations.models import Experiment, ExperimentDecision, Notification


def experiments_for(*, project, model=None, kind=None, status=None):
    """The project's experiments (of ``model``, ``kind``, ``status`` when given), newest
    first, with their versions; ``latest_decisions`` reads their current decisions at once."""
    found = Experiment.objects.filter(project=project)
    if model is not None:
        found = found.filter(model=model)
    if kind is not None:
        found = found.filter(kind=kind)
    if status is not None:
        found = found.filter(status=status)
    return (
        found.select_related("model", "control")
        .prefetch_related("arms__model_version")
        .order_by("-created_at", "-id")
    )


def latest_decisions(experiments) -> None:
    """Set each experiment's ``latest`` decision (None before its first window), in one
    query for all of them."""
    experiments = list(experiments)
    ranked = (
        ExperimentDecision.objects.filter(experiment__in=experiments)
        .annotate(rank=Window(RowNumber(), partition_by=[F("experiment_id")],
                              order_by=[F("created_at").desc(), F("id").desc()]))
        .filter(rank=1)
        .select_related("window")
    )  # fmt: skip
    latest = {decision.experiment_id: decision for decision in ranked}
    for experiment in experiments:
        experiment.latest = latest.get(experiment.pk)


def latest_decision(*, experiment):
    """The experiment's current decision, None before its first window."""
    return experiment.decisions.select_related("window").order_by("-created_at", "-id").first()


def arm_rows(*, experiment, decision) -> list[tuple[str, int, list[dict | None]]]:
    """Per arm after ``decision``: (version, units, each metric's figures in the experiment's
    metric order: the stored figures' keys come back in JSON's order)."""
    if decision is None:
        return []
    names = [spec["name"] for spec in experiment.metric_specs]
    return [
        (
            label,
            arm.get("n", 0),
            [_arm_figures(experiment, decision, label, name) for name in names],
        )
        for label, arm in (decision.figures.get("arms") or {}).items()
    ]


def _arm_figures(experiment, decision, label, name) -> dict | None:
    """One arm's cumulative figures for a metric after ``decision``. A shadow's agreement is
    the candidate's with the control: it is shown on the candidate, from the decision's check."""
    if experiment.kind == Experiment.Kind.SHADOW and name == experiment.primary_metric["name"]:
        if label == experiment.labels[0]:
            return None
        check = next(iter(decision.figures.get("checks") or []), None)
        if not check or check.get("estimate") is None:
            return None
        return {"mean": check["estimate"], "low": check["lower"], "high": check["upper"]}
    arm = (decision.figures.get("arms") or {}).get(label, {})
    return arm.get("metrics", {}).get(name)


def experiment_notifications(*, experiment, limit=100):
    """The alerts the experiment's decisions sent (or are sending), newest first."""
    return (
        Notification.objects.filter(decision__experiment=experiment)
        .select_related("decision__window", "decision__experiment")
        .order_by("-created_at", "-id")[:limit]
    )


def get_experiment(*, project, experiment_id) -> Experiment:
    found = experiments_for(project=project).filter(pk=experiment_id).first()
    if found is None:
        raise Http404(f"No experiment {experiment_id} in this project.")
    return found


def experiment_timeline(*, experiment) -> dict:
    """The chart's data: per window the time and decision; per metric and arm the cumulative
    mean with its interval after each window; the traffic steps; a bandit's weights."""
    decisions = list(experiment.decisions.select_related("window").order_by("created_at", "id"))
    labels = experiment.labels
    windows = [d for d in decisions if d.window_id is not None]
    metrics = []
    for spec in experiment.metric_specs:
        arms = {}
        for label in labels:
            figures = [_arm_figures(experiment, d, label, spec["name"]) or {} for d in windows]
            arms[label] = {key: [f.get(key) for f in figures] for key in ("mean", "low", "high")}
        required = None
        if experiment.kind == Experiment.Kind.SHADOW and spec is experiment.primary_metric:
            required = spec.get("min") or 0.95  # the agreement a shadow must reach
        metrics.append({"name": spec["name"], "type": spec["type"],
                        "direction": spec["direction"], "arms": arms,
                        "required": required})  # fmt: skip
    steps = allocation = None
    if experiment.kind == Experiment.Kind.CANARY:
        steps = [experiment.traffic_steps[d.step] for d in windows]
    if experiment.kind == Experiment.Kind.BANDIT:
        allocation = [d.figures.get("allocation") or {} for d in windows]
    return {
        "kind": experiment.kind,
        "control": labels[0],
        "arms": labels,
        "windows": [d.window.window_id for d in windows],
        "at": [d.window.end.isoformat() for d in windows],
        "decisions": [d.action for d in windows],
        "reasons": [d.reasons[0] if d.reasons else "" for d in windows],
        "steps": steps,
        "allocation": allocation,
        "metrics": metrics,
    }
