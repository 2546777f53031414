"""Findings of the trend analysis: stored once per ongoing degradation, and triaged by people.

Re-analysing the same evidence never creates a second finding: a degradation still present
updates the series' active finding of its family (a fall, read as a step or a drift; or a drop
below the baseline); one no longer present is resolved (the series recovered). The analysis
holds a fall that has an active finding while its evidence stays within ``detect.HOLD`` times
the setting's alpha (``series_analysis``), so a finding does not flap. A finding a
person marked as a false alarm stays closed.
"""

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from evaluations.models import ChangeMark, Finding, ModelVersion, Series


class TriageError(Exception):
    def __init__(self, errors):
        super().__init__(errors)
        self.errors = errors


# A fall of the level is one degradation whether it reads as a step or as a drift (the
# shape can change as points arrive); a drop below the baseline is another.
FAMILY = {"drift": "fall", "step": "fall", "baseline_drop": "baseline", "threshold": "threshold"}
ANALYSIS_FAMILIES = ("fall", "baseline")


@dataclass(frozen=True)
class Detected:
    """What the analysis reports of one degradation, in the terms stored."""

    kind: str
    start_version_id: int | None
    end_version_id: int | None
    magnitude: float
    relative_magnitude: float | None
    slope: float | None
    p_value: float | None
    confidence: float | None
    forecast_versions: float | None
    message: str


@dataclass(frozen=True)
class Recorded:
    opened: list[Finding]
    updated: list[Finding]
    resolved: list[Finding]


@transaction.atomic
def record_findings(*, series, detected: list[Detected], families=ANALYSIS_FAMILIES) -> Recorded:
    """Bring the series' findings of ``families`` in line with the latest judgement (the
    trend analysis judges falls and baseline drops; the gate, threshold breaches)."""
    # Judgements of one series (two posts' gates, a post and a job) wait for each other here,
    # so that two of them never both open the same finding.
    Series.objects.select_for_update().filter(pk=series.pk).values_list("pk").first()
    now = timezone.now()
    active = {
        FAMILY[f.kind]: f
        for f in Finding.objects.select_for_update().filter(
            series=series, status__in=Finding.ACTIVE
        )
        if FAMILY[f.kind] in families
    }
    opened, updated = [], []
    for item in detected:
        fields = {
            name: getattr(item, name)
            for name in (
                "start_version_id", "end_version_id", "magnitude", "relative_magnitude",
                "slope", "p_value", "confidence", "forecast_versions", "message",
            )
        }  # fmt: skip
        finding = active.pop(FAMILY[item.kind], None)
        if finding is None:
            opened.append(Finding.objects.create(series=series, kind=item.kind, **fields))
            continue
        finding.kind = item.kind  # a fall first read as a step may read as a drift later
        for name, value in fields.items():
            setattr(finding, name, value)
        finding.last_seen_at = now
        finding.save()
        updated.append(finding)
    resolved = list(active.values())
    for finding in resolved:
        finding.status = Finding.Status.RESOLVED
        finding.resolved_at = now
        finding.triage_note = finding.triage_note or "The series recovered."
        finding.save(update_fields=["status", "resolved_at", "triage_note"])
    return Recorded(opened=opened, updated=updated, resolved=resolved)


TRANSITIONS = {
    "acknowledge": (Finding.Status.ACKNOWLEDGED, {Finding.Status.OPEN}),
    "resolve": (Finding.Status.RESOLVED, {Finding.Status.OPEN, Finding.Status.ACKNOWLEDGED}),
    "false_alarm": (
        Finding.Status.FALSE_ALARM,
        {Finding.Status.OPEN, Finding.Status.ACKNOWLEDGED, Finding.Status.RESOLVED},
    ),
}


def triage(*, finding, action, by, note="") -> Finding:
    """A person's verdict on a finding: acknowledge, resolve or false_alarm."""
    status, allowed_from = TRANSITIONS[action]
    if finding.status not in allowed_from:
        raise TriageError(
            {"status": [f"A finding that is {finding.status} cannot be marked {status}."]}
        )
    now = timezone.now()
    finding.status = status
    finding.triaged_by, finding.triaged_at = by, now
    finding.triage_note = note or finding.triage_note
    if status in (Finding.Status.RESOLVED, Finding.Status.FALSE_ALARM):
        finding.resolved_at = finding.resolved_at or now
    finding.save()
    return finding


def alert_precision(findings) -> dict:
    """How trustworthy the alerts were: of the findings people judged, the share that were
    real (acknowledged, or resolved by a person) rather than false alarms."""
    counts = findings.aggregate(
        real=Count("pk", filter=Q(triaged_at__isnull=False) & ~Q(status="false_alarm")),
        false_alarms=Count("pk", filter=Q(status="false_alarm")),
        total=Count("pk"),
    )
    judged = counts["real"] + counts["false_alarms"]
    return {**counts, "judged": judged, "precision": counts["real"] / judged if judged else None}


def mark_change(*, model, version_label, note, by) -> ChangeMark:
    """Mark a version as an intended change: analysis and budgets restart from it."""
    version = ModelVersion.objects.filter(model=model, label=version_label).first()
    if version is None:
        raise TriageError({"version": [f"{model.name} has no version {version_label}."]})
    mark, created = ChangeMark.objects.get_or_create(
        model=model, model_version=version, defaults={"note": note, "created_by": by}
    )
    if not created:
        raise TriageError({"version": [f"{version.label} is already marked: {mark.note}"]})
    return mark


@dataclass(frozen=True)
class SeriesBreach:
    """Where judged runs leave one series: the failed checks of the latest of them (none:
    it passes), and the versions its failing stretch spans."""

    series: Series
    checks: list
    start_version_id: int
    end_version_id: int


def breach_states(judged, *, active=frozenset()) -> list[SeriesBreach]:
    """Each series' state after ``judged`` ((run, verdict) in the order posted): as if the runs
    had been posted one by one, but with no finding opened and closed again in between, so
    that a backfill of a thousand runs records (and alerts on) only the state it leaves.

    Only the states that can change a finding: the series failing after some run, and those
    in ``active`` (ids of series with an open threshold finding, which a pass resolves). A
    passing series with no finding has nothing to record: most of a suite's thousand."""
    states = {}
    for run, verdict in judged:
        failed = {}
        for check in verdict.checks:
            if check.status == "failed" and check.rule != "missing":
                failed.setdefault((check.metric, check.slice), []).append(check)
        if not failed and not states and not active:
            continue
        version = run.model_version_id
        for result in run.result_list:
            series = result.series
            if not series.watched:  # a pull request's branch: its verdict says enough
                continue
            checks = failed.get((series.metric.name, series.slice)) if failed else None
            if checks:
                before = states.get(series.pk)
                since = before.start_version_id if before and before.checks else version
                states[series.pk] = SeriesBreach(series, checks, since, version)
            elif series.pk in states or series.pk in active:
                states[series.pk] = SeriesBreach(series, [], version, version)
    return list(states.values())


def record_gate_breaches(*, judged) -> Recorded:
    """Threshold breaches that judged runs ((run, verdict) in the order posted) leave, as
    findings of their series: a failing series opens one; a series still failing updates its
    finding (one query for all of them); a series whose checks pass again resolves it."""
    watched = {
        result.series.pk for run, _ in judged for result in run.result_list if result.series.watched
    }
    active = {
        f.series_id: f
        for f in Finding.objects.filter(
            series_id__any=list(watched), kind="threshold", status__in=Finding.ACTIVE
        )
    }
    states = breach_states(judged, active=active.keys())
    opened, still, resolved = [], [], []
    now = timezone.now()
    for state in states:
        finding = active.get(state.series.pk)
        if state.checks and finding is not None:
            finding.end_version_id, finding.last_seen_at = state.end_version_id, now
            finding.magnitude = state.checks[0].delta or 0.0
            finding.message = _breach_message(state.checks)
            still.append(finding)
        elif state.checks:
            opened += record_findings(
                series=state.series, detected=[_breach(state)], families=("threshold",)
            ).opened
        elif finding is not None:
            resolved += record_findings(
                series=state.series, detected=[], families=("threshold",)
            ).resolved
    _update_breaches(still)
    return Recorded(opened=opened, updated=still, resolved=resolved)


def _update_breaches(still):
    if not still:
        return
    with transaction.atomic():
        # Locked in id order first: concurrent posts updating the same findings in one
        # statement each could otherwise deadlock.
        list(
            Finding.objects.select_for_update()
            .filter(pk__in=[f.pk for f in still])
            .order_by("pk")
            .values_list("pk")
        )
        Finding.objects.bulk_update(
            still, ["end_version_id", "last_seen_at", "magnitude", "message"]
        )


def _breach(state) -> Detected:
    checks = state.checks
    return Detected(
        kind="threshold", start_version_id=state.start_version_id,
        end_version_id=state.end_version_id, magnitude=checks[0].delta or 0.0,
        relative_magnitude=None, slope=None, p_value=checks[0].p_value, confidence=None,
        forecast_versions=None, message=_breach_message(checks),
    )  # fmt: skip


def _breach_message(checks):
    return "; ".join(check.message for check in checks)
