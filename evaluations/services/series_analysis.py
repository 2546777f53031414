"""The analysis jobs: trend analysis of the series a post touched, findings stored.

Storing a run marks each series it touched dirty and queues a job for those that were clean;
the job clears the mark first, then judges each series with the pure analysis
(``evaluations.analysis``) and keeps the findings that survive false-discovery-rate control
across the series of the job (Benjamini-Hochberg, see ``analysis.fdr``).
"""

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from evaluations import selectors
from evaluations.analysis import detect
from evaluations.models import Finding, Series
from evaluations.services import alerts, findings

# Points read per series: the analysis judges the latest detect.WINDOW, and a budget's or a
# baseline's story rarely needs more.
POINTS = 2 * detect.WINDOW


def analyse_series(*, series_ids) -> int:
    """Analyse the given series and store what is found; returns how many were analysed.
    Safe to run twice: the same evidence updates the same findings."""
    with transaction.atomic():
        # Clearing the flags first waits for any post still writing to these series (it
        # holds their row locks; both lock in id order) and lets a post arriving later
        # queue a job of its own.
        locked = list(
            Series.objects.select_for_update()
            .filter(pk__in=series_ids)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        Series.objects.filter(pk__in=locked).update(
            dirty=False, analysed_at=timezone.now(), analysis_count=F("analysis_count") + 1
        )
    inputs = selectors.analysis_inputs(series_ids=locked, points=POINTS)
    analyses = [_analyse(item) for item in inputs]
    surviving = {}
    for discovery in detect.control_fdr(analyses):
        surviving.setdefault(discovery.series, []).append(discovery.finding)
    active = set(
        Finding.objects.filter(series_id__in=locked, status__in=Finding.ACTIVE).values_list(
            "series_id", flat=True
        )
    )
    _store_trends(inputs, analyses)
    for index, item in enumerate(inputs):
        found = surviving.get(index, [])
        if found or item.series.pk in active:
            recorded = findings.record_findings(
                series=item.series, detected=[_detected(item, f) for f in found]
            )
            alerts.notify(
                opened=recorded.opened, updated=recorded.updated, resolved=recorded.resolved
            )
    return len(inputs)


def _store_trends(inputs, analyses):
    changed = []
    for item, analysis in zip(inputs, analyses, strict=True):
        trend = _trend(item, analysis.trend)
        if trend != item.series.trend:
            item.series.trend = trend
            changed.append(item.series)
    Series.objects.bulk_update(changed, ["trend"])


def _trend(item, trend):
    if trend is None:
        return None
    return {
        "start_version": item.versions[trend.start_index],
        "start_value": trend.value_at(trend.start_index),
        "end_version": item.versions[trend.end_index],
        "end_value": trend.value_at(trend.end_index),
        "slope": trend.slope,
    }


def _analyse(item):
    return detect.analyse(
        item.values,
        direction=item.series.metric.direction,
        versions=item.versions,
        n=item.n,
        ci_low=item.ci_low,
        ci_high=item.ci_high,
        baseline=item.baseline,
        floor=item.floor,
        budget=item.budget if item.baseline is not None else None,
        metric=_metric_label(item.series),
    )


def _metric_label(series):
    on = (
        series.dataset.name
        if series.slice == "overall"
        else f"{series.dataset.name}, {series.slice}"
    )
    return f"{series.metric.name} on {on}"


def _detected(item, finding) -> findings.Detected:
    return findings.Detected(
        kind=finding.kind,
        start_version_id=item.version_ids[finding.start_index],
        end_version_id=item.version_ids[finding.end_index],
        magnitude=finding.magnitude,
        relative_magnitude=finding.relative_magnitude,
        slope=finding.slope,
        p_value=finding.p_value,
        confidence=finding.confidence,
        forecast_versions=finding.forecast_versions_to_breach,
        message=finding.message,
    )


def due_series_ids(*, touched_before, analysed_before, limit=100_000) -> list[int]:
    """Series due a sweep: touched before ``touched_before`` and still dirty (their job was
    lost), or not analysed since ``analysed_before`` (new evidence aside, baselines, rules
    and marks change too)."""
    return list(
        Series.objects.filter(
            Q(dirty=True, touched_at__lt=touched_before)
            | Q(analysed_at__isnull=True, touched_at__lt=touched_before)
            | Q(analysed_at__lt=analysed_before)
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
