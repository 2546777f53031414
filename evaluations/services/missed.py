"""Regressions the trend analysis missed, as people mark them, and the alerts' recall.

A member marks "this should have been found at version X" on a series; the mark counts as
missed until a finding of that series that people confirmed covers it (see
``selectors.missed``: the finding spans X or starts within two versions of it), and then
counts no more, without anyone withdrawing it. Withdrawn, a mark stops counting and is kept,
with who withdrew it and when; the same version may be marked again.
"""

from django.db import IntegrityError, transaction
from django.utils import timezone

from evaluations.models import MissedRegression
from evaluations.selectors import missed as missed_selectors
from evaluations.services.findings import alert_precision


class MissedError(Exception):
    """The request cannot be done as asked; ``errors`` names the field."""

    def __init__(self, errors):
        super().__init__(errors)
        self.errors = errors


def mark_missed(*, series, model_version, note, by) -> MissedRegression:
    """Mark a regression the analysis should have found in ``series`` at ``model_version``."""
    try:
        with transaction.atomic():
            return MissedRegression.objects.create(
                series=series, model_version=model_version, note=note, created_by=by
            )
    except IntegrityError:
        raise MissedError(
            {"version": [f"{model_version.label} is already marked as missed on this series."]}
        ) from None


def withdraw_missed(*, mark, by) -> MissedRegression:
    """Withdraw a mark: it no longer counts against recall, and stays as a record."""
    mark.withdrawn_at, mark.withdrawn_by = timezone.now(), by
    mark.save(update_fields=["withdrawn_at", "withdrawn_by"])
    return mark


def alert_recall(*, precision, covered) -> dict:
    """Beside alert precision (``findings.alert_precision``): of the regressions known, the
    share the alerts found. Found are the findings people confirmed as real; missed, the
    standing marks that no confirmed finding covers (``covered``: per standing mark, the
    finding that covers it or None; a covered mark is already counted among the found)."""
    hits = sum(1 for finding_id in covered.values() if finding_id is not None)
    missed = len(covered) - hits
    known = precision["real"] + missed
    return {
        "missed": missed,
        "missed_covered": hits,
        "recall": precision["real"] / known if known else None,
    }


def alert_quality(*, findings, marks=None, covered=None) -> dict:
    """Alert precision of ``findings`` with their recall against the standing ones of
    ``marks`` (or the standing marks' coverage, already read), in one dict, as
    ``findings/precision/`` and the series' ``alert_precision`` answer it."""
    precision = alert_precision(findings)
    if covered is None:
        covered = missed_selectors.covering(marks.standing())
    return {**precision, **alert_recall(precision=precision, covered=covered)}
