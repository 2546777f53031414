"""Online comparisons: creating an experiment, taking each window of aggregates the serving
system posts (idempotent on its ``window_id``), and the decision after it, judged by the pure
policies of ``evaluations.experiments`` on the cumulative statistics per arm.

A window and its decision are stored in one transaction, the experiment row locked, so that
two posts of windows never judge on the same totals; the totals after each window are kept with
its decision, so a window costs the same whatever the experiment's length.
"""

import hashlib
import json
from dataclasses import asdict

from django.db import transaction
from django.utils import timezone

from evaluations import selectors
from evaluations.experiments.arms import EMPTY, ArmStats
from evaluations.experiments.bandit import BanditConfig, decide_bandit
from evaluations.experiments.canary import CanaryConfig, decide_canary
from evaluations.experiments.decision import MetricSpec
from evaluations.experiments.interleaving import InterleavingConfig, decide_interleaving
from evaluations.experiments.sequential import share_bounds
from evaluations.experiments.shadow import ShadowConfig, decide_shadow
from evaluations.models import (
    Experiment,
    ExperimentArm,
    ExperimentDecision,
    ExperimentWindow,
    ModelVersion,
    RegisteredModel,
)
from evaluations.services import alerts

# What each decision makes of the experiment: actions not listed keep it running.
ENDINGS = {
    "complete": Experiment.Status.COMPLETED,
    "rollback": Experiment.Status.ROLLED_BACK,
    "safe_to_switch": Experiment.Status.COMPLETED,
    "not_safe": Experiment.Status.ROLLED_BACK,
    "candidate_better": Experiment.Status.DECIDED,
    "control_better": Experiment.Status.DECIDED,
    "no_difference": Experiment.Status.DECIDED,
    "winner": Experiment.Status.COMPLETED,
}


class ExperimentError(Exception):
    """The request contradicts the experiment; ``errors`` names the fields, ``conflict``
    says it is a 409 (a replay with another body, a window on an ended experiment)."""

    def __init__(self, errors, *, conflict=False):
        super().__init__(errors)
        self.errors, self.conflict = errors, conflict


@transaction.atomic
def create_experiment(*, project, data, created_by="") -> Experiment:
    """An experiment from a validated body; the model and versions it names are created when
    the project does not have them yet, as runs do."""
    if Experiment.objects.filter(project=project, name=data["name"]).exists():
        raise ExperimentError({"name": [f"An experiment named {data['name']!r} exists."]})
    model, _ = RegisteredModel.objects.get_or_create(project=project, name=data["model"])
    versions = {
        label: ModelVersion.objects.get_or_create(model=model, label=label)[0]
        for label in [data["control"], *data["candidates"]]
    }
    experiment = Experiment.objects.create(
        project=project, model=model, name=data["name"], kind=data["kind"],
        control=versions[data["control"]], primary_metric=data["primary_metric"],
        guardrails=data["guardrails"], alpha=data["alpha"],
        traffic_steps=data["traffic_steps"], planned_split=data["planned_split"],
        min_windows_per_step=data["min_windows_per_step"], seed=data["seed"],
        created_by=created_by,
    )  # fmt: skip
    ExperimentArm.objects.bulk_create(
        ExperimentArm(experiment=experiment, model_version=version, is_control=index == 0,
                      position=index)
        for index, version in enumerate(versions.values())
    )  # fmt: skip
    return experiment


def add_window(*, experiment, window) -> tuple[ExperimentDecision, bool]:
    """Store a validated window and judge the experiment after it: (the decision, whether the
    window was new). A replay of a stored window_id with the same body answers its decision;
    with another body, or on an ended experiment, an ExperimentError (409)."""
    digest = hashlib.sha256(json.dumps(window, sort_keys=True, default=str).encode()).hexdigest()
    with transaction.atomic():
        experiment = Experiment.objects.select_for_update().get(pk=experiment.pk)
        stored = experiment.windows.filter(window_id=window["window_id"]).first()
        if stored is not None:
            if stored.digest != digest:
                raise ExperimentError(
                    {"window_id": [f"{window['window_id']!r} is stored with another body."]},
                    conflict=True,
                )
            return stored.decision, False
        if experiment.status != Experiment.Status.RUNNING:
            raise ExperimentError(
                {"detail": f"The experiment has ended ({experiment.status}): no more windows."},
                conflict=True,
            )
        stored = ExperimentWindow.objects.create(
            experiment=experiment, window_id=window["window_id"], start=window["start"],
            end=window["end"], body=_json(window), digest=digest, step=experiment.step,
        )  # fmt: skip
        decision = _judge(experiment, window, stored)
        return decision, True


def stop_experiment(*, experiment, by="") -> Experiment:
    """Stop a running experiment by hand; its history stays."""
    with transaction.atomic():
        experiment = Experiment.objects.select_for_update().get(pk=experiment.pk)
        if experiment.status == Experiment.Status.RUNNING:
            experiment.status, experiment.ended_at = Experiment.Status.STOPPED, timezone.now()
            experiment.save(update_fields=["status", "ended_at"])
            latest = selectors.latest_decision(experiment=experiment)
            ExperimentDecision.objects.create(
                experiment=experiment, action="stopped", step=experiment.step,
                reasons=[f"stopped by {by}" if by else "stopped"],
                totals=latest.totals if latest else {},
                figures=latest.figures if latest else {},
            )  # fmt: skip
    return experiment


def _judge(experiment, window, stored) -> ExperimentDecision:
    previous = selectors.latest_decision(experiment=experiment)
    totals = _summed(previous.totals if previous else {}, window, experiment)
    labels = experiment.labels
    decision = POLICIES[experiment.kind](experiment, labels, totals)
    step = experiment.step
    if decision.action == "promote":
        experiment.step += 1
        totals["step_units"], totals["windows_at_step"] = [0, 0], 0
    status = ENDINGS.get(decision.action)
    if status is not None:
        experiment.status, experiment.ended_at = status, timezone.now()
    experiment.save(update_fields=["step", "status", "ended_at"])
    stored_decision = ExperimentDecision.objects.create(
        experiment=experiment, window=stored, action=decision.action,
        reasons=list(decision.reasons), step=step, totals=totals,
        figures=_figures(experiment, labels, totals, decision),
    )  # fmt: skip
    # In the decision's own transaction: an alert is on record whenever its decision is.
    alerts.notify_experiment(decision=stored_decision, previous=previous)
    return stored_decision


def _summed(totals, window, experiment) -> dict:
    """The cumulative aggregates after ``window``: per arm its units and per metric
    (n, sum, sum_sq); interleaving's credit; shadow's agreement; the canary step's units."""
    totals = json.loads(json.dumps(totals)) if totals else {}
    arms = totals.setdefault("arms", {})
    types = {spec["name"]: spec["type"] for spec in experiment.metric_specs}
    for label, arm in window.get("arms", {}).items():
        entry = arms.setdefault(label, {"n": 0, "metrics": {}})
        entry["n"] += arm["n"]
        for name, aggregate in arm.get("metrics", {}).items():
            stats = ArmStats.from_window(n=arm["n"], aggregate=aggregate, kind=types[name])
            before = entry["metrics"].get(name, {"n": 0, "sum": 0.0, "sum_sq": 0.0})
            entry["metrics"][name] = {
                "n": before["n"] + stats.n,
                "sum": before["sum"] + stats.sum,
                "sum_sq": before["sum_sq"] + stats.sum_sq,
            }
    if "credit" in window:
        credit = totals.setdefault("credit", {})
        for key, wins in window["credit"].items():
            credit[key] = credit.get(key, 0) + wins
    if "agreement" in window:
        agreement = totals.setdefault("agreement", {"n": 0, "agree": 0, "abs_diff_sum": None})
        agreement["n"] += window["agreement"]["n"]
        agreement["agree"] += window["agreement"]["agree"]
        if window["agreement"].get("abs_diff_sum") is not None:
            agreement["abs_diff_sum"] = (agreement["abs_diff_sum"] or 0.0) + window["agreement"][
                "abs_diff_sum"
            ]
    if experiment.kind == Experiment.Kind.CANARY:
        control, candidate = experiment.labels[:2]
        units = totals.get("step_units", [0, 0])
        totals["step_units"] = [
            units[0] + window["arms"].get(control, {}).get("n", 0),
            units[1] + window["arms"].get(candidate, {}).get("n", 0),
        ]
        totals["windows_at_step"] = totals.get("windows_at_step", 0) + 1
    return totals


def _spec(entry) -> MetricSpec:
    return MetricSpec(
        entry["name"], entry["type"], entry["direction"], entry.get("max_degradation") or 0.0
    )


def _stats(totals, label, name) -> ArmStats:
    found = totals.get("arms", {}).get(label, {}).get("metrics", {}).get(name)
    return EMPTY if found is None else ArmStats(found["n"], found["sum"], found["sum_sq"])


def _canary(experiment, labels, totals):
    control, candidate = labels[:2]
    specs = [_spec(entry) for entry in experiment.metric_specs]
    split = experiment.planned_split
    config = CanaryConfig(
        primary=specs[0], guardrails=tuple(specs[1:]), alpha=experiment.alpha,
        traffic_steps=tuple(experiment.traffic_steps),
        planned_split=(split[control], split[candidate]) if split else None,
        min_windows_per_step=experiment.min_windows_per_step,
    )  # fmt: skip
    return decide_canary(
        config,
        step=experiment.step,
        control={s.name: _stats(totals, control, s.name) for s in specs},
        candidate={s.name: _stats(totals, candidate, s.name) for s in specs},
        step_units=tuple(totals["step_units"]),
        windows_at_step=totals["windows_at_step"],
    )


def _shadow(experiment, labels, totals):
    agreement = totals.get("agreement", {"n": 0, "agree": 0, "abs_diff_sum": None})
    control, candidate = labels[:2]
    guardrails = tuple(_spec(entry) for entry in experiment.guardrails)
    config = ShadowConfig(
        min_agreement=experiment.primary_metric.get("min") or 0.95, alpha=experiment.alpha,
        guardrails=guardrails,
    )  # fmt: skip
    return decide_shadow(
        config, n=agreement["n"], agree=agreement["agree"],
        abs_diff_sum=agreement.get("abs_diff_sum"),
        control={s.name: _stats(totals, control, s.name) for s in guardrails},
        candidate={s.name: _stats(totals, candidate, s.name) for s in guardrails},
    )  # fmt: skip


def _interleaving(experiment, labels, totals):
    credit = totals.get("credit", {})
    control, candidate = labels[:2]
    return decide_interleaving(
        InterleavingConfig(alpha=experiment.alpha),
        candidate_wins=credit.get(candidate, 0),
        control_wins=credit.get(control, 0),
        ties=credit.get("ties", 0),
    )


def _bandit(experiment, labels, totals):
    spec = _spec(experiment.primary_metric)
    windows = totals.get("windows", 0) + 1
    totals["windows"] = windows
    return decide_bandit(
        BanditConfig(metric=spec, alpha=experiment.alpha),
        {label: _stats(totals, label, spec.name) for label in labels},
        seed=experiment.seed * 1_000_003 + windows,
    )


POLICIES = {
    Experiment.Kind.CANARY: _canary,
    Experiment.Kind.SHADOW: _shadow,
    Experiment.Kind.INTERLEAVING: _interleaving,
    Experiment.Kind.BANDIT: _bandit,
}


def _figures(experiment, labels, totals, decision) -> dict:
    """What the API and pages show of a decision: per arm and metric the cumulative mean with
    an interval (an always-valid one for a proportion), the checks, the split test, the
    bandit's weights."""
    arms = {}
    for label in labels:
        entry = totals.get("arms", {}).get(label, {"n": 0, "metrics": {}})
        metrics = {}
        for spec in experiment.metric_specs:
            stats = _stats(totals, label, spec["name"])
            metrics[spec["name"]] = _arm_metric(stats, spec["type"], experiment.alpha)
        arms[label] = {"n": entry["n"], "metrics": metrics}
    return {
        "arms": arms,
        "checks": [asdict(check) for check in decision.checks],
        "srm": None if decision.srm is None else {
            "p_value": decision.srm.p_value, "mismatch": decision.srm.mismatch,
            "observed": list(decision.srm.observed), "expected": list(decision.srm.expected),
        },
        "allocation": dict(decision.allocation),
        "best_probability": dict(decision.best_probability),
        "impressions_needed": decision.impressions_needed,
        "credit": totals.get("credit"),
        "agreement": totals.get("agreement"),
    }  # fmt: skip


def _arm_metric(stats, kind, alpha) -> dict:
    if stats.n == 0:
        return {"n": 0, "mean": None, "low": None, "high": None}
    if kind == "proportion":
        low, high = share_bounds(round(stats.sum), stats.n, alpha)
    else:
        variance = stats.variance
        half = None if variance is None else 1.96 * (variance / stats.n) ** 0.5
        low, high = (None, None) if half is None else (stats.mean - half, stats.mean + half)
    return {"n": stats.n, "mean": stats.mean, "low": low, "high": high}


def _json(window) -> dict:
    return json.loads(json.dumps(window, default=str))
