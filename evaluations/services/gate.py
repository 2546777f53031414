"""The regression gate a run's answer carries: the stored baseline and rules handed to the
gate engine that the CI client also runs offline (``trackerclient.gate``)."""

from evaluations import selectors
from evaluations.models import MetricDefinition
from trackerclient import gate, metric_catalog, stats


def evaluate_gate(*, run) -> gate.Verdict:
    """The verdict on a stored run (with ``result_list``, as selectors.runs_for reads it)."""
    candidate = [
        gate.Result(
            metric=result.series.metric.name,
            value=result.value,
            direction=result.series.metric.direction,
            slice=result.series.slice,
            n=result.n,
            ci_low=result.ci_low,
            ci_high=result.ci_high,
            outcomes=_bits(result.outcomes),
        )
        for result in run.result_list
    ]
    model = run.model_version.model
    return _evaluate(
        model=model,
        candidate=candidate,
        dataset_name=run.dataset.name,
        dataset_version=run.dataset.version,
        version_label=run.model_version.label,
    )


def evaluate_payload(*, project, payload) -> gate.Verdict:
    """The verdict a validated run body would get, without storing anything (dry run)."""
    model = selectors.find_model(project=project, name=payload["model"])
    if model is None:
        return gate.Verdict("no_baseline", [])
    directions = dict(
        MetricDefinition.objects.filter(
            project=project, name__in=[m["name"] for m in payload["metrics"]]
        ).values_list("name", "direction")
    )
    candidate = [
        gate.Result(
            metric=m["name"],
            value=m["value"],
            direction=directions.get(m["name"])
            or m.get("direction")
            or metric_catalog.defaults_for(m["name"]).direction,
            slice=m["slice"],
            n=m.get("n"),
            ci_low=m.get("ci_low"),
            ci_high=m.get("ci_high"),
            outcomes=_bits(m.get("outcomes")),
        )
        for m in payload["metrics"]
    ]
    return _evaluate(
        model=model,
        candidate=candidate,
        dataset_name=payload["dataset"]["name"],
        dataset_version=payload["dataset"]["version"],
        version_label=payload["version"],
    )


def gate_baseline(*, model, dataset_name) -> gate.Baseline | None:
    """The current baseline of ``model`` on ``dataset_name``, as the gate takes it."""
    pin = selectors.current_pin(model=model, dataset_name=dataset_name)
    if pin is None:
        return None
    return gate.Baseline(
        version=pin.model_version.label,
        dataset_version=pin.run.dataset.version,
        results={r.key: r for r in selectors.gate_results(run_id=pin.run_id)},
    )


def gate_rules(*, model, dataset_name) -> list[gate.Rule]:
    """The rules that apply on ``dataset_name``, with their budgets' anchors."""
    return [
        _rule(rule, model=model, dataset_name=dataset_name)
        for rule in selectors.rules_for(model=model, dataset_name=dataset_name)
    ]


def _evaluate(*, model, candidate, dataset_name, dataset_version, version_label):
    baseline = gate_baseline(model=model, dataset_name=dataset_name)
    rules = gate_rules(model=model, dataset_name=dataset_name)
    return gate.evaluate(
        candidate=candidate,
        baseline=baseline,
        rules=rules,
        dataset=dataset_name,
        dataset_version=dataset_version,
        is_baseline=baseline is not None
        and version_label == baseline.version
        and dataset_version == baseline.dataset_version,
    )


def _rule(rule, *, model, dataset_name):
    anchor, anchor_version = {}, None
    if rule.budget is not None:
        pin = selectors.pin_at(model=model, dataset_name=dataset_name, moment=rule.budget_since)
        if pin is not None:
            anchor_version = pin.model_version.label
            anchor = {
                r.key: r.value
                for r in selectors.gate_results(run_id=pin.run_id)
                if r.metric == rule.metric
            }
    return gate.Rule(
        metric=rule.metric,
        slice=rule.slice or None,
        min=rule.min,
        max=rule.max,
        max_drop=rule.max_drop,
        max_drop_pct=rule.max_drop_pct,
        significance=rule.significance,
        budget=rule.budget,
        anchor=anchor,
        anchor_version=anchor_version,
    )


def _bits(packed):
    """Packed outcomes (validated from a body) as the gate's bit set."""
    return None if packed is None else stats.outcomes_from_bytes(bytes(packed))
