"""Shapes of online comparisons: the experiment as created, a window of aggregates as the
serving system posts it, and the decisions. Bad input names its field and stores nothing."""

import itertools

from rest_framework import serializers

from evaluations import links
from evaluations.models import Experiment

from .fields import ChoiceField, NameField, StrictFloatField, StrictIntegerField

MAX_COUNT = 10**15  # units in one window: beyond any serving system's, within a float's exact range
MAX_ARMS = 20
METRIC_TYPES = [("proportion", "proportion"), ("mean", "mean")]
DIRECTIONS = [("higher_is_better", "higher_is_better"), ("lower_is_better", "lower_is_better")]


class MetricSpecSerializer(serializers.Serializer):
    name = NameField()
    type = ChoiceField(choices=METRIC_TYPES)
    direction = ChoiceField(choices=DIRECTIONS)
    max_degradation = StrictFloatField(
        required=False, default=0.0, min_value=0.0,
        help_text="How much worse it may get, absolute, in the metric's units",
    )  # fmt: skip
    min = StrictFloatField(
        required=False, allow_null=True, default=None, min_value=0.0, max_value=1.0,
        help_text="Shadow: the agreement required (default 0.95)",
    )  # fmt: skip


class ExperimentInputSerializer(serializers.Serializer):
    name = NameField()
    model = NameField()
    kind = ChoiceField(choices=Experiment.Kind.choices)
    control = NameField(help_text="The serving version")
    candidates = serializers.ListField(child=NameField(), min_length=1, max_length=MAX_ARMS - 1)
    primary_metric = MetricSpecSerializer()
    guardrails = MetricSpecSerializer(many=True, required=False, default=list)
    alpha = StrictFloatField(required=False, default=0.05, min_value=0.0001, max_value=0.2)
    traffic_steps = serializers.ListField(
        child=StrictFloatField(min_value=0.001, max_value=100.0), required=False,
        default=[1, 5, 25, 50, 100], max_length=20,
    )  # fmt: skip
    planned_split = serializers.DictField(
        child=StrictFloatField(min_value=0.0), required=False, default=dict,
        help_text="Shares of the compared traffic per version",
    )  # fmt: skip
    min_windows_per_step = StrictIntegerField(required=False, default=1, min_value=1,
                                              max_value=10_000)  # fmt: skip
    seed = StrictIntegerField(required=False, default=0, min_value=0, max_value=2**62)

    def validate(self, attrs):
        versions = [attrs["control"], *attrs["candidates"]]
        if len(set(versions)) != len(versions):
            raise serializers.ValidationError({"candidates": ["Each version may appear once."]})
        if attrs["kind"] != Experiment.Kind.BANDIT and len(attrs["candidates"]) != 1:
            raise serializers.ValidationError(
                {"candidates": [f"A {attrs['kind']} compares one candidate with the control."]}
            )
        steps = attrs["traffic_steps"]
        if any(b <= a for a, b in itertools.pairwise(steps)) or not steps:
            raise serializers.ValidationError({"traffic_steps": ["Must increase."]})
        unknown = set(attrs["planned_split"]) - set(versions)
        if unknown:
            raise serializers.ValidationError(
                {
                    "planned_split": [
                        f"Not a version of the experiment: {', '.join(sorted(unknown))}."
                    ]
                }
            )
        if attrs["planned_split"] and set(attrs["planned_split"]) != set(versions):
            raise serializers.ValidationError(
                {"planned_split": ["Give a share for every version, or none."]}
            )
        names = [attrs["primary_metric"]["name"], *(g["name"] for g in attrs["guardrails"])]
        if len(set(names)) != len(names):
            raise serializers.ValidationError({"guardrails": ["Metric names must differ."]})
        return attrs


class AggregateSerializer(serializers.Serializer):
    successes = StrictIntegerField(required=False, min_value=0, max_value=MAX_COUNT)
    sum = StrictFloatField(required=False)
    sum_sq = StrictFloatField(required=False, min_value=0.0)


class WindowArmSerializer(serializers.Serializer):
    n = StrictIntegerField(min_value=0, max_value=MAX_COUNT)
    metrics = serializers.DictField(child=AggregateSerializer(), required=False, default=dict)


class AgreementSerializer(serializers.Serializer):
    n = StrictIntegerField(min_value=0, max_value=MAX_COUNT)
    agree = StrictIntegerField(min_value=0, max_value=MAX_COUNT)
    abs_diff_sum = StrictFloatField(required=False, allow_null=True, min_value=0.0)

    def validate(self, attrs):
        if attrs["agree"] > attrs["n"]:
            raise serializers.ValidationError({"agree": ["Must not exceed n."]})
        return attrs


class WindowInputSerializer(serializers.Serializer):
    window_id = NameField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    arms = serializers.DictField(child=WindowArmSerializer(), required=False, default=dict)
    credit = serializers.DictField(
        child=StrictIntegerField(min_value=0, max_value=MAX_COUNT), required=False
    )
    agreement = AgreementSerializer(required=False)

    def __init__(self, *args, experiment=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.experiment = experiment  # what the window is checked against (None: the schema)

    def validate(self, attrs):
        if attrs["end"] < attrs["start"]:
            raise serializers.ValidationError({"end": ["Must not be before start."]})
        experiment = self.experiment
        labels = experiment.labels
        kind = experiment.kind
        for field, wanted in (("credit", "interleaving"), ("agreement", "shadow")):
            if field in attrs and kind != wanted:
                raise serializers.ValidationError(
                    {field: [f"Only an {wanted} experiment takes {field}, not a {kind}."]}
                )
        unknown = set(attrs["arms"]) - set(labels)
        if unknown:
            raise serializers.ValidationError(
                {"arms": [f"Not a version of the experiment: {', '.join(sorted(unknown))}."]}
            )
        self._check_metrics(attrs["arms"])
        if "credit" in attrs:
            unknown = set(attrs["credit"]) - {*labels, "ties"}
            if unknown:
                raise serializers.ValidationError(
                    {"credit": [f"Not a version of the experiment: {', '.join(sorted(unknown))}."]}
                )
        return attrs

    def _check_metrics(self, arms):
        types = {spec["name"]: spec["type"] for spec in self.experiment.metric_specs}
        for label, arm in arms.items():
            for name, aggregate in arm["metrics"].items():
                where = f"arms.{label}.metrics.{name}"
                if name not in types:
                    raise serializers.ValidationError({where: ["Not a metric of the experiment."]})
                if types[name] == "proportion":
                    if "successes" not in aggregate or set(aggregate) - {"successes"}:
                        raise serializers.ValidationError(
                            {where: ["A proportion takes successes."]}
                        )
                    if aggregate["successes"] > arm["n"]:
                        raise serializers.ValidationError({where: ["successes must not exceed n."]})
                elif {"sum", "sum_sq"} - set(aggregate) or "successes" in aggregate:
                    raise serializers.ValidationError({where: ["A mean takes sum and sum_sq."]})
                elif arm["n"] == 0 and (aggregate["sum"] or aggregate["sum_sq"]):
                    raise serializers.ValidationError({where: ["Sums of no units must be 0."]})
                elif arm["n"] and aggregate["sum_sq"] * arm["n"] < aggregate["sum"] ** 2 * (
                    1 - 1e-9
                ):
                    raise serializers.ValidationError(
                        {where: ["sum_sq is below sum² / n: no data has that spread."]}
                    )


class ArmMetricSerializer(serializers.Serializer):
    n = serializers.IntegerField()
    mean = serializers.FloatField(allow_null=True)
    low = serializers.FloatField(allow_null=True, help_text="Always-valid for a proportion")
    high = serializers.FloatField(allow_null=True)


class ArmFiguresSerializer(serializers.Serializer):
    n = serializers.IntegerField(help_text="Units of traffic so far")
    metrics = serializers.DictField(child=ArmMetricSerializer())


class SrmSerializer(serializers.Serializer):
    p_value = serializers.FloatField()
    mismatch = serializers.BooleanField()


class DecisionSerializer(serializers.Serializer):
    decision = serializers.CharField(
        help_text="canary: continue, promote, complete, rollback; shadow: continue, "
        "safe_to_switch, not_safe; interleaving: continue, candidate_better, control_better, "
        "no_difference; bandit: continue, winner; stopped"
    )
    reasons = serializers.ListField(child=serializers.CharField())
    step = serializers.IntegerField(help_text="The canary's traffic step it was taken at")
    window_id = serializers.CharField(allow_null=True)
    at = serializers.DateTimeField()
    srm = SrmSerializer(allow_null=True, required=False)
    arms = serializers.DictField(child=ArmFiguresSerializer(), required=False)
    checks = serializers.ListField(child=serializers.DictField(), required=False)
    allocation = serializers.DictField(
        child=serializers.FloatField(), allow_null=True, required=False
    )


class ExperimentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.CharField()
    name = serializers.CharField()
    model = serializers.CharField()
    kind = serializers.CharField()
    status = serializers.CharField()
    control = serializers.CharField()
    candidates = serializers.ListField(child=serializers.CharField())
    primary_metric = MetricSpecSerializer()
    guardrails = MetricSpecSerializer(many=True)
    alpha = serializers.FloatField()
    traffic_steps = serializers.ListField(child=serializers.FloatField())
    planned_split = serializers.DictField(child=serializers.FloatField())
    step = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(allow_null=True)
    decision = DecisionSerializer(allow_null=True, help_text="The current decision")
    history = DecisionSerializer(
        many=True, required=False, help_text="Every decision, oldest first"
    )


class ExperimentPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    results = ExperimentSerializer(many=True)


class AllocationSerializer(serializers.Serializer):
    weights = serializers.DictField(child=serializers.FloatField())
    at = serializers.DateTimeField()


class ExperimentQuerySerializer(serializers.Serializer):
    model = NameField(required=False)
    kind = ChoiceField(choices=Experiment.Kind.choices, required=False)
    status = ChoiceField(choices=Experiment.Status.choices, required=False)


def experiment_data(experiment, decision, history=None) -> dict:
    """An experiment as the API answers it: its setup, its current decision with the
    cumulative per-arm statistics, and (on its own page) the history of decisions."""
    body = {
        "id": experiment.pk,
        "url": links.experiment_url(experiment),
        "name": experiment.name,
        "model": experiment.model.name,
        "kind": experiment.kind,
        "status": experiment.status,
        "control": experiment.labels[0],
        "candidates": experiment.labels[1:],
        "primary_metric": experiment.primary_metric,
        "guardrails": experiment.guardrails,
        "alpha": experiment.alpha,
        "traffic_steps": experiment.traffic_steps,
        "planned_split": experiment.planned_split,
        "step": experiment.step,
        "created_at": experiment.created_at,
        "ended_at": experiment.ended_at,
        "decision": None if decision is None else decision_data(decision),
    }
    if history is not None:
        body["history"] = [decision_data(d, figures=False) for d in history]
    return body


def decision_data(decision, figures=True) -> dict:
    body = {
        "decision": decision.action,
        "reasons": decision.reasons,
        "step": decision.step,
        "window_id": decision.window.window_id if decision.window_id else None,
        "at": decision.created_at,
    }
    if figures:
        srm = decision.figures.get("srm")
        body |= {
            "srm": None
            if srm is None
            else {"p_value": srm["p_value"], "mismatch": srm["mismatch"]},
            "arms": decision.figures.get("arms", {}),
            "checks": decision.figures.get("checks", []),
            "allocation": decision.figures.get("allocation") or None,
        }
    return body
