"""The analysis jobs: trend analysis of the series a post touched, findings stored.

Storing a run marks each series it touched due (``Series.dirty``) and queues a job for those
that were clean. A job judges each series with the pure analysis (``evaluations.analysis``),
keeps the findings that survive false-discovery-rate control across the series of the job
(Benjamini-Hochberg, see ``analysis.fdr``), and marks a series analysed only in the transaction
that stores its analysis, and only if no post touched it since the job read it. So analysis is
at-least-once per touched series: a job that dies leaves its series due for the sweep, and one
series that fails (absurd values, a bug) is recorded as failing without failing its neighbours.
"""

import logging
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from evaluations import selectors
from evaluations.analysis import detect
from evaluations.analysis.sensitivity import sensitivity
from evaluations.models import Finding, Series
from evaluations.services import alerts, findings, rows

log = logging.getLogger(__name__)

# Points read per series: the analysis judges the latest detect.WINDOW, and a budget's or a
# baseline's story rarely needs more.
POINTS = 2 * detect.WINDOW
# A failed series is retried after 1, 2, 4 ... minutes, at most a day apart.
RETRY_FIRST_SECONDS = 60
RETRY_MAX_SECONDS = 24 * 3600
ERROR_LENGTH = 2000


@dataclass
class JobOutcome:
    """What one job did: series analysed and marked clean, series still due because a post
    touched them meanwhile (to queue again), and series whose analysis failed."""

    analysed: list[int] = field(default_factory=list)
    still_due: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


def analyse_series(*, series_ids, queued_at=None) -> JobOutcome:
    """Analyse the given series and store what is found. Safe to run twice: the same evidence
    updates the same findings. A job queued at ``queued_at`` skips the series another job has
    analysed since (the sweep may queue a series again while its first job still waits)."""
    outcome = JobOutcome()
    # Each series' generation is read with it, before its points: a post committed after
    # that bumps the generation, and the series then stays due for the points not seen.
    inputs = selectors.analysis_inputs(
        series_ids=series_ids, points=POINTS, skip_analysed_since=queued_at
    )
    generations = {item.series.pk: item.series.generation for item in inputs}
    open_kinds = Finding.objects.filter(series_id__in=generations, status__in=Finding.ACTIVE)
    active, holding = set(), set()
    for pk, kind in open_kinds.values_list("series_id", "kind"):
        active.add(pk)
        if findings.FAMILY[kind] == "fall":
            holding.add(pk)
    analyses, errors = [], {}
    for item in inputs:
        try:
            analyses.append(_checked(_analyse(item, holding=item.series.pk in holding)))
        except Exception as exc:  # one series' failure must not fail its neighbours
            analyses.append(None)
            errors[item.series.pk] = exc
    judged = [a if a is not None else _SKIPPED for a in analyses]
    surviving = _surviving(inputs, judged, holding)
    quiet = []
    for index, (item, analysis) in enumerate(zip(inputs, analyses, strict=True)):
        pk = item.series.pk
        if analysis is None:
            _record_failure(pk, errors[pk], outcome)
        elif surviving.get(index) or pk in active:
            _store_one(item, analysis, surviving.get(index, []), generations[pk], outcome)
        else:
            quiet.append((item, analysis))
    _store_quiet(quiet, generations, outcome)
    return outcome


def _store_one(item, analysis, found, generation, outcome):
    """Findings, trend and the analysed mark of one series, in one transaction."""
    pk = item.series.pk
    try:
        with transaction.atomic():
            recorded = findings.record_findings(
                series=item.series, detected=[_detected(item, f) for f in found]
            )
            alerts.notify(
                opened=recorded.opened, updated=recorded.updated, resolved=recorded.resolved
            )
            _save_trends([(item, analysis)])
            still_due = _mark_analysed({pk: generation})
    except Exception as exc:
        _record_failure(pk, exc, outcome)
        return
    (outcome.still_due if still_due else outcome.analysed).append(pk)


def _store_quiet(quiet, generations, outcome):
    """Series with no finding to record (most of them): trends and marks in one transaction;
    if that fails, one by one, so that a bad series fails alone."""
    if not quiet:
        return
    marks = {item.series.pk: generations[item.series.pk] for item, _ in quiet}
    try:
        with transaction.atomic():
            # Locked in id order before any update, as posts lock them: the trends'
            # bulk update locks in whatever order it scans, which deadlocked with a post.
            _lock_in_order(marks)
            _save_trends(quiet)
            still_due = _mark_analysed(marks)
    except Exception:
        for item, analysis in quiet:
            _store_one(item, analysis, [], generations[item.series.pk], outcome)
        return
    outcome.still_due += still_due
    outcome.analysed += [pk for pk in marks if pk not in set(still_due)]


def _mark_analysed(generations) -> list[int]:
    """Mark the series analysed now, and clear the due flag (and any failure) where the
    generation is still the one the job read; returns those a post touched meanwhile, still
    due (marked queued: the job's task queues them again). In the caller's transaction,
    the rows locked."""
    now = timezone.now()
    ids = sorted(generations)  # locked by the caller, in id order, as posts lock them
    Series.objects.filter(pk__in=ids).update(
        analysed_at=now, analysis_count=F("analysis_count") + 1
    )
    _clear_unchanged(generations)
    still_due = list(Series.objects.filter(pk__in=ids, dirty=True).values_list("pk", flat=True))
    Series.objects.filter(pk__in=still_due).update(queued_at=now)
    return still_due


def _clear_unchanged(generations):
    """Clear the due flag (and any failure) of the series whose generation is still the one
    the job read: on PostgreSQL one statement joined to the (id, generation) pairs as arrays
    (an OR of a thousand pairs costs more to compile and plan than the update)."""
    cleared = {
        "dirty": False, "due_since": None, "analysis_failures": 0, "analysis_error": "",
        "analysis_failed_at": None, "retry_at": None,
    }  # fmt: skip
    if connection.vendor != "postgresql":
        unchanged = Q(pk__in=[])
        for pk, generation in generations.items():
            unchanged |= Q(pk=pk, generation=generation)
        Series.objects.filter(unchanged).update(**cleared)
        return
    table = Series._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {table} AS s SET {", ".join(f"{column} = %s" for column in cleared)}
            FROM unnest(%s::bigint[], %s::bigint[]) AS read(id, generation)
            WHERE s.id = read.id AND s.generation = read.generation
            """,
            [*cleared.values(), list(generations), list(generations.values())],
        )


def _lock_in_order(series_ids) -> list[int]:
    """Lock the series rows in id order, as posts lock them, so that the updates that follow
    in the transaction cannot deadlock with a post; the ids, sorted."""
    ids = sorted(series_ids)
    rows.lock_in_order(Series, ids)
    return ids


def _record_failure(pk, exc, outcome):
    """The series stays due; it is retried after a backoff that doubles with each failure."""
    log.exception("analysis of series %s failed", pk, exc_info=exc)
    outcome.failed.append(pk)
    now = timezone.now()
    with transaction.atomic():
        series = Series.objects.select_for_update().filter(pk=pk).first()
        if series is None:
            return
        series.analysis_failures += 1
        series.analysis_error = f"{type(exc).__name__}: {exc}"[:ERROR_LENGTH]
        series.analysis_failed_at = now
        delay = min(RETRY_FIRST_SECONDS * 2 ** min(series.analysis_failures - 1, 20),
                    RETRY_MAX_SECONDS)  # fmt: skip
        series.retry_at = now + timedelta(seconds=delay)
        series.dirty = True
        series.due_since = series.due_since or now
        series.save(
            update_fields=[
                "analysis_failures", "analysis_error", "analysis_failed_at", "retry_at",
                "dirty", "due_since",
            ]
        )  # fmt: skip


def _save_trends(pairs):
    changed = []
    for item, analysis in pairs:
        trend = _trend(item, analysis.trend)
        if trend != item.series.trend:
            item.series.trend = trend
            changed.append(item.series)
    Series.objects.bulk_update(changed, ["trend"])


class _Skipped:
    """Stands in for a failed series in false-discovery-rate control: not tested."""

    analysed = False
    degradations = ()


_SKIPPED = _Skipped()


def _checked(analysis):
    """Refuse an analysis whose numbers are not finite: it could not be stored or drawn."""
    numbers = [analysis.p_value]
    if analysis.trend is not None:
        numbers += [analysis.trend.slope, analysis.trend.intercept]
    for degradation in analysis.degradations:
        numbers += [degradation.magnitude, degradation.level_before, degradation.level_after]
        numbers += [x for x in (degradation.slope, degradation.relative_magnitude) if x is not None]
    if not np.all(np.isfinite(numbers)):
        raise ValueError("the analysis gave non-finite numbers (values too large to analyse)")
    return analysis


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


def _surviving(inputs, judged, holding):
    """{index of a series: its degradations that survive false-discovery-rate control}, the
    series of each project sensitivity controlled together at that setting's alpha (a job may
    hold several projects' series). A fall of a series ``holding`` an open finding of one was
    judged at the analysis' hold level (``detect.HOLD``) and stays: the control is for new
    findings, and letting a held one go below that level would make it flap again."""
    groups = {}
    for index, item in enumerate(inputs):
        groups.setdefault(item.series.model.project.sensitivity, []).append(index)
    surviving = {}
    for name, indexes in groups.items():
        chosen = [judged[index] for index in indexes]
        for discovery in detect.control_fdr(chosen, alpha=sensitivity(name).alpha):
            surviving.setdefault(indexes[discovery.series], []).append(discovery.degradation)
    for index, item in enumerate(inputs):
        if item.series.pk in holding:
            falls = [d for d in judged[index].degradations if findings.FAMILY[d.kind] == "fall"]
            kept = surviving.get(index, [])
            if falls:
                surviving[index] = kept + [d for d in falls if d not in kept]
    return surviving


def _analyse(item, holding=False):
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
        # The project's choice, read with the series (analysis_inputs): no query per series.
        sensitivity=sensitivity(item.series.model.project.sensitivity),
        holding=holding,
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


def mark_due(*, series_ids) -> tuple[list[int], list[int]]:
    """Make the watched series among ``series_ids`` due for analysis again, as a post does
    (``ingest._mark_dirty``, which also decides which series are watched): each one's
    generation bumped, so that a job that read it before leaves it due; ``due_since`` and
    ``queued_at`` set on those that were not due yet. Rows locked in id order and mode, as
    posts lock them; they stay locked until the caller's transaction ends. Returns the watched
    ids and those of them that were not due yet: the caller queues them once committed."""
    flags = rows.lock_in_order(Series, series_ids, ("id", "watched", "dirty"))
    watched = [pk for pk, is_watched, _ in flags if is_watched]
    clean = [pk for pk, is_watched, dirty in flags if is_watched and not dirty]
    now = timezone.now()
    Series.objects.filter(pk__in=clean).update(due_since=now, queued_at=now)
    Series.objects.filter(pk__in=watched).update(dirty=True, generation=F("generation") + 1)
    return watched, clean


def claim_due_series(*, limit=100_000) -> list[int]:
    """Series the sweep should queue, oldest due first, marked queued now: due and not queued
    within the grace (their job was lost, or failed), past any failure's backoff; or not
    analysed for a while (baselines, rules and marks change too)."""
    now = timezone.now()
    grace = now - timedelta(seconds=settings.SWEEP_GRACE_SECONDS)
    stale = now - timedelta(seconds=settings.REANALYSE_AFTER_SECONDS)
    backoff_over = Q(retry_at__isnull=True) | Q(retry_at__lte=now)
    lost = Q(dirty=True) & (Q(queued_at__isnull=True) | Q(queued_at__lt=grace))
    idle = Q(dirty=False) & (Q(analysed_at__lt=stale) | Q(analysed_at__isnull=True))
    with transaction.atomic():
        ids = list(
            Series.objects.filter((lost | idle) & backoff_over, watched=True)
            .order_by(F("due_since").asc(nulls_last=True), "pk")
            .values_list("pk", flat=True)[:limit]
        )
        Series.objects.filter(pk__in=ids).update(queued_at=now)
    return ids
