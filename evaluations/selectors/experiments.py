"""Reads of online comparisons for the pages: a project's experiments with their current
decision, and one experiment's timeline (every decision with the cumulative per-arm figures
it was taken on), shaped for its chart."""

from django.http import Http404

from evaluations.models import Experiment, ExperimentDecision


def experiments_for(*, project, model=None):
    """The project's experiments (of ``model`` only, when given), newest first, each with
    ``latest`` (its current decision, or None)."""
    found = Experiment.objects.filter(project=project).select_related("model", "control")
    if model is not None:
        found = found.filter(model=model)
    found = list(found.order_by("-created_at", "-id"))
    latest = {}
    for decision in (
        ExperimentDecision.objects.filter(experiment__in=found)
        .order_by("experiment_id", "created_at", "id")
        .only("experiment_id", "action", "reasons", "created_at", "step")
    ):
        latest[decision.experiment_id] = decision  # the last wins
    for experiment in found:
        experiment.latest = latest.get(experiment.pk)
    return found


def get_experiment(*, project, experiment_id) -> Experiment:
    found = (
        Experiment.objects.filter(project=project, pk=experiment_id)
        .select_related("model", "control")
        .first()
    )
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
            figures = [d.figures.get("arms", {}).get(label, {}).get("metrics", {}).get(
                spec["name"], {}) for d in windows]  # fmt: skip
            arms[label] = {key: [f.get(key) for f in figures] for key in ("mean", "low", "high")}
        metrics.append({"name": spec["name"], "type": spec["type"],
                        "direction": spec["direction"], "arms": arms})  # fmt: skip
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
