"""The regression gate a run's answer carries: the stored baseline and rules handed to the
gate engine that the CI client also runs offline (``trackerclient.gate``)."""

import math

import orjson
from django.db import connection

from evaluations import selectors
from evaluations.models import EvaluationRun, MetricDefinition, MetricResult
from evaluations.services import alerts, branches, findings, replicates
from trackerclient import gate, metric_catalog, stats


def evaluate_gate(*, run) -> gate.Verdict:
    """The verdict on a stored run (with ``result_list``, as ingest stored it or
    selectors.runs_for read it)."""
    model = run.model_version.model
    return _evaluate(
        model=model,
        candidate=replicates.gate_candidate(run, _candidate(run)),
        dataset_name=run.dataset.name,
        dataset_version=run.dataset.version,
        version_label=run.model_version.label,
        branch=run.base_branch or model.project.default_branch,
    )


def judge_runs(*, runs) -> list[dict]:
    """The verdicts of posted runs (in the order posted), each judged once: a run not yet
    judged is judged against the stored baseline and rules, read once per model and dataset,
    and its verdict stored with it; the threshold breaches the runs leave become findings (and
    alerts). A run already judged (a replay) answers its stored verdict."""
    inputs, judged, seen = {}, [], set()
    for run in runs:
        if run.gate_verdict is None and run.pk not in seen:  # a batch may repeat a run
            seen.add(run.pk)
            judged.append((run, _judge(run, inputs)))
    if judged:
        recorded = findings.record_gate_breaches(judged=judged)
        alerts.notify(opened=recorded.opened, resolved=recorded.resolved)
        _store_verdicts([run for run, _ in judged], [verdict for _, verdict in judged])
    return [run.gate_verdict for run in runs]


def _judge(run, inputs) -> gate.Verdict:
    """``evaluate_gate`` with the baseline and rules of ``inputs`` (a cache by model and
    dataset), so that a batch reads them once."""
    key = (run.model_version.model_id, run.dataset.name, run.base_branch)
    if key not in inputs:
        inputs[key] = _GateInputs(
            model=run.model_version.model, dataset_name=run.dataset.name, branch=run.base_branch
        )
    return _evaluate_on(
        inputs[key],
        candidate=replicates.gate_candidate(run, _candidate(run)),
        dataset_version=run.dataset.version,
        version_label=run.model_version.label,
    )


def rejudge_latest_runs(*, model, dataset_name="") -> list[dict]:
    """After the rules change: the latest run of each of the model's dataset versions (on
    ``dataset_name`` only, when given) judged again under the rules now, its stored verdict
    replaced, and its threshold breaches opened or resolved as findings. The latest run
    stands for its series now, so a floor set after a run breached it is a finding at once,
    and a floor lifted resolves one."""
    verdicts = []
    for run in selectors.latest_runs_per_dataset(model=model, dataset_name=dataset_name):
        verdict = evaluate_gate(run=run)
        recorded = findings.record_gate_breaches(judged=[(run, verdict)])
        alerts.notify(opened=recorded.opened, resolved=recorded.resolved)
        run.gate_verdict = verdict_data(verdict, base_branch=run.base_branch)
        EvaluationRun.objects.filter(pk=run.pk).update(gate_verdict=run.gate_verdict)
        verdicts.append(run.gate_verdict)
    return verdicts


def run_verdict(*, run) -> dict:
    """The verdict a page shows for a stored run: the one its post answered. A run never
    judged (stored before verdicts were kept) is judged now against the
    current baseline and rules, and the verdict stored, so that it too is judged only once.
    This opens no findings: a breach is a finding only when its run is the latest."""
    if run.gate_verdict is not None:
        return run.gate_verdict
    return _store_verdict(run, evaluate_gate(run=run))


def verdict_data(verdict: gate.Verdict, *, base_branch) -> dict:
    """A verdict as the API answers it (GateSerializer's shape) and as runs store it:
    ``base_branch`` names the branch whose baseline judged it."""
    return {
        "status": verdict.status,
        "base_branch": base_branch,
        "checks": [_check_data(c) for c in verdict.checks],
    }


def _store_verdict(run, verdict):
    return _store_verdicts([run], [verdict])[0]


def _store_verdicts(runs, verdicts):
    for run, verdict in zip(runs, verdicts, strict=True):
        run.gate_verdict = verdict_data(verdict, base_branch=run.base_branch)
    # Only where still unjudged: two requests judging the same run at once store one verdict.
    unjudged = EvaluationRun.objects.filter(gate_verdict__isnull=True)
    if connection.vendor == "postgresql":
        _store_verdicts_in_one_statement(runs)
    elif len(runs) == 1:  # a post: one statement, without bulk_update's own transaction
        unjudged.filter(pk=runs[0].pk).update(gate_verdict=runs[0].gate_verdict)
    else:
        unjudged.bulk_update(runs, ["gate_verdict"], batch_size=500)
    return [run.gate_verdict for run in runs]


def _store_verdicts_in_one_statement(runs):
    """Verdicts in one UPDATE from arrays, written by orjson: bulk_update's CASE over 500 JSON
    values costs more CPU than judging the runs, and Python's json takes milliseconds for
    the verdict of a run of 1,000 results."""
    table = EvaluationRun._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {table} AS r SET gate_verdict = v.verdict::json
            FROM (SELECT unnest(%s::bigint[]) AS id, unnest(%s::text[]) AS verdict) AS v
            WHERE r.id = v.id AND r.gate_verdict IS NULL
            """,
            [[run.pk for run in runs], [orjson.dumps(run.gate_verdict).decode() for run in runs]],
        )


def _check_data(check, isfinite=math.isfinite):
    # A finite float, else None (as the JSON renderer answers it): a budget of 0 that is
    # eroded at all is used infinitely, and JSON, so the stored verdict, has no infinity.
    # Written out rather than a helper called seven times: a suite's verdict has 1,000 checks.
    value, baseline, limit, delta = check.value, check.baseline, check.limit, check.delta
    p_value, q_value, used = check.p_value, check.q_value, check.budget_used
    return {
        "metric": check.metric,
        "slice": check.slice,
        "rule": check.rule,
        "status": check.status,
        "passed": check.status != gate.FAILED,
        "message": check.message,
        "value": None if value is None or not isfinite(value) else float(value),
        "baseline": None if baseline is None or not isfinite(baseline) else float(baseline),
        "limit": None if limit is None or not isfinite(limit) else float(limit),
        "delta": None if delta is None or not isfinite(delta) else float(delta),
        "p_value": None if p_value is None or not isfinite(p_value) else float(p_value),
        "q_value": None if q_value is None or not isfinite(q_value) else float(q_value),
        "method": check.method,
        "budget_used": None if used is None or not isfinite(used) else float(used),
        "replicates": check.replicates,
        "baseline_replicates": check.baseline_replicates,
        # The seeds' spreads: finite whenever set (trackerclient.replicates bounds them).
        "sd": check.sd,
        "baseline_sd": check.baseline_sd,
    }


def _candidate(run) -> list[gate.Result]:
    """The run's results as the gate takes them: from memory when ingest has just stored
    them, else read again with their outcomes, which the run selectors leave out."""
    results = run.result_list
    if (
        results
        and isinstance(results[0], MetricResult)
        and "outcomes" in results[0].get_deferred_fields()
    ):
        return selectors.gate_results(run_id=run.pk)
    return [
        gate.Result(
            metric=result.series.metric.name,
            value=result.value,
            direction=result.series.metric.direction,
            slice=result.series.slice,
            n=result.n,
            n_pos=result.n_pos,
            n_neg=result.n_neg,
            ci_low=result.ci_low,
            ci_high=result.ci_high,
            outcomes=_bits(result.outcomes),
        )
        for result in results
    ]


def evaluate_payload(*, project, payload) -> dict:
    """The verdict a validated run body would get, without storing anything (dry run), as
    ``verdict_data`` shapes it; a seeded run is judged as the replicate sets it would join."""
    base = branches.base_branch(project, payload)
    model = selectors.find_model(project=project, name=payload["model"])
    if model is None:
        return verdict_data(gate.Verdict("no_baseline", []), base_branch=base)
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
            n_pos=m.get("n_pos"),
            n_neg=m.get("n_neg"),
            ci_low=m.get("ci_low"),
            ci_high=m.get("ci_high"),
            outcomes=_bits(m.get("outcomes")),
        )
        for m in payload["metrics"]
    ]
    verdict = _evaluate(
        model=model,
        candidate=replicates.dry_run_candidate(
            project=project, model=model, payload=payload, results=candidate
        ),
        dataset_name=payload["dataset"]["name"],
        dataset_version=payload["dataset"]["version"],
        version_label=payload["version"],
        branch=base,
    )
    return verdict_data(verdict, base_branch=base)


# Pins read at once when a budget counts from an earlier baseline than the current one.
PIN_WINDOW = 200


class _GateInputs:
    """The stored baseline and rules of a model on a dataset, read with few queries: the
    current pin, its run's results, the rules (each saying whether a mark was made since its
    budget started). Earlier pins, other runs' results and the marks are read only when a
    budget counts from them."""

    def __init__(self, *, model, dataset_name, branch):
        self.model, self.dataset_name, self.branch = model, dataset_name, branch
        current = selectors.pin_rows(model=model, dataset_name=dataset_name, branch=branch, limit=1)
        self.pin = current[0] if current else None
        self._pins = None  # the latest PIN_WINDOW, once a budget needs an earlier pin
        self._results = {}
        self._marks = None
        self._baseline = self._rules = None

    def baseline(self) -> gate.Baseline | None:
        if self.pin is None:
            return None
        if self._baseline is None:
            self._baseline = self._read_baseline()
        return self._baseline

    def _read_baseline(self):
        pin = self.pin
        return gate.Baseline(
            version=pin.version,
            dataset_version=pin.dataset_version,
            results={r.key: r for r in self._pinned_results(pin)},
        )

    def _pinned_results(self, pin):
        """The pinned run's results; a seeded run's as its replicate sets, read afresh (the
        results are remembered per process, while a set grows with each seed)."""
        results = self.results(pin.run_id, pin.run_created_at)
        return selectors.with_replicate_sets(run_id=pin.run_id, seed=pin.seed, results=results)

    def rules(self) -> list[gate.Rule]:
        if self._rules is None:
            rows = selectors.gate_rule_rows(model=self.model, dataset_name=self.dataset_name)
            self._rules = [self._rule(rule) for rule in rows]
        return self._rules

    def results(self, run_id, created_at):
        """The results of a baseline's or an anchor's run (named by id and creation time)."""
        if run_id not in self._results:
            self._results[run_id] = selectors.baseline_results(run_id=run_id, created_at=created_at)
        return self._results[run_id]

    def _pin_at(self, moment):
        """The baseline as it was at ``moment``; the earliest one if none was pinned yet."""
        if self.pin is None or self.pin.pinned_at <= moment:
            return self.pin
        if self._pins is None:
            self._pins = selectors.pin_rows(
                model=self.model, dataset_name=self.dataset_name, branch=self.branch,
                limit=PIN_WINDOW,
            )  # fmt: skip
        for pin in self._pins:  # newest first
            if pin.pinned_at <= moment:
                return pin
        if len(self._pins) == PIN_WINDOW:  # a budget older than the window: read its pin
            pin = selectors.pin_at(
                model=self.model, dataset_name=self.dataset_name, branch=self.branch,
                moment=moment,
            )  # fmt: skip
            return selectors.PinRow(
                pin.pinned_at, pin.run_id, pin.model_version.label, pin.run.dataset.version,
                pin.run.created_at, pin.run.seed,
            )  # fmt: skip
        return self._pins[-1]

    def _budget_anchor(self, rule):
        """(version, run id, run creation time) the budget counts from: the latest
        intended-change mark made since the budget was set (a new segment starts there), else
        the baseline pinned then."""
        if rule.marked_since_budget:
            if self._marks is None:
                self._marks = list(selectors.marks_for(model=self.model))  # newest first
            for mark in self._marks:
                if mark.created_at < rule.budget_since:
                    break
                run = selectors.latest_run_of(
                    model=self.model,
                    version_label=mark.model_version.label,
                    dataset_name=self.dataset_name,
                )
                if run is not None:
                    label = f"{mark.model_version.label} (marked: {mark.note})"
                    return label, run.pk, run.created_at
        pin = self._pin_at(rule.budget_since)
        return (pin.version, pin.run_id, pin.run_created_at) if pin else (None, None, None)

    def _rule(self, rule):
        anchor, anchor_version = {}, None
        if rule.budget is not None:
            anchor_version, run_id, created_at = self._budget_anchor(rule)
            if run_id is not None:
                anchor = {
                    r.key: r.value
                    for r in self.results(run_id, created_at)
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


def gate_rules(*, model, dataset_name, branch) -> list[gate.Rule]:
    """The rules that apply on ``dataset_name``, with their budgets' anchors on ``branch``."""
    return _GateInputs(model=model, dataset_name=dataset_name, branch=branch).rules()


def _evaluate(*, model, candidate, dataset_name, dataset_version, version_label, branch):
    return _evaluate_on(
        _GateInputs(model=model, dataset_name=dataset_name, branch=branch),
        candidate=candidate,
        dataset_version=dataset_version,
        version_label=version_label,
    )


def _evaluate_on(inputs, *, candidate, dataset_version, version_label):
    baseline = inputs.baseline()
    return gate.evaluate(
        candidate=candidate,
        baseline=baseline,
        rules=inputs.rules(),
        dataset=inputs.dataset_name,
        dataset_version=dataset_version,
        is_baseline=baseline is not None
        and version_label == baseline.version
        and dataset_version == baseline.dataset_version,
    )


def _bits(packed):
    """Packed outcomes (validated from a body) as the gate's bit set."""
    return None if packed is None else stats.outcomes_from_bytes(bytes(packed))
