"""Baselines (pinned versions per model and dataset) and threshold rules."""

from django.db import transaction
from django.utils import timezone

from evaluations import selectors
from evaluations.models import BaselinePin, Branch, ThresholdRule
from evaluations.services import branches, gate

RULE_LIMITS = ("min", "max", "max_drop", "max_drop_pct", "significance", "budget")


class BaselineError(Exception):
    """The request names something the model does not have; ``errors`` names the field."""

    def __init__(self, errors):
        super().__init__(errors)
        self.errors = errors


def pin_baseline(
    *, model, dataset_name, version_label, dataset_version=None, branch=None, pinned_by, note=""
) -> BaselinePin:
    """Pin ``version_label`` as the baseline of ``model`` on ``dataset_name`` and ``branch``
    (the project's default branch unless named): its latest run there (on that branch, when it
    ran there) supplies the values. The previous pins stay as the baseline's history."""
    branch = branch or model.project.default_branch
    where = {"model": model, "version_label": version_label, "dataset_name": dataset_name,
             "dataset_version": dataset_version}  # fmt: skip
    run = selectors.latest_run_of(**where, branch=branch) or selectors.latest_run_of(**where)
    if run is None:
        on = f"{dataset_name}@{dataset_version}" if dataset_version else dataset_name
        raise BaselineError({"version": [f"{model.name} {version_label} has no run on {on}."]})
    branch_row, _ = Branch.objects.get_or_create(
        model=model,
        name=branch,
        defaults={"long_lived": branches.is_long_lived(model.project, branch)},
    )
    return BaselinePin.objects.create(
        model=model,
        dataset_name=dataset_name,
        branch=branch_row,
        model_version=run.model_version,
        run=run,
        pinned_by=pinned_by,
        note=note,
    )


@transaction.atomic
def save_rule(*, model, rule=None, rejudge=True, **fields) -> ThresholdRule:
    """Create a rule, or update ``rule``; setting or changing the budget restarts it from the
    baseline pinned now. The latest runs it covers are judged again under it (unless
    ``rejudge`` is off, for a caller that sets several rules and judges once after them)."""
    if rule is None:
        rule = ThresholdRule(model=model)
    budget_changed = rule.pk is None or fields.get("budget", rule.budget) != rule.budget
    for name, value in fields.items():
        setattr(rule, name, value)
    rule.updated_at = timezone.now()
    if budget_changed:
        rule.budget_since = rule.updated_at
    if not any(getattr(rule, name) is not None for name in RULE_LIMITS):
        raise BaselineError(
            {"non_field_errors": [f"Set at least one of {', '.join(RULE_LIMITS)}."]}
        )
    duplicate = ThresholdRule.objects.filter(
        model=model, metric=rule.metric, dataset_name=rule.dataset_name, slice=rule.slice
    ).exclude(pk=rule.pk)
    if duplicate.exists():
        raise BaselineError(
            {"metric": ["A rule for this metric, dataset and slice exists: update it instead."]}
        )
    previous_dataset = (
        ThresholdRule.objects.filter(pk=rule.pk).values_list("dataset_name", flat=True).first()
    )
    rule.save()
    if not rejudge:
        return rule
    # A rule moved from one dataset to another leaves the runs of the first to judge again.
    scope = rule.dataset_name if previous_dataset in (None, rule.dataset_name) else ""
    gate.rejudge_latest_runs(model=model, dataset_name=scope)
    return rule


@transaction.atomic
def delete_rule(*, rule):
    """Delete ``rule``; the latest runs it covered are judged again without it."""
    rule.delete()
    gate.rejudge_latest_runs(model=rule.model, dataset_name=rule.dataset_name)
