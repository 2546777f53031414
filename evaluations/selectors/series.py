"""Reads of metric series: which series, its points, and their cached JSON."""

import orjson
from django.core.cache import cache
from django.http import Http404

from evaluations.models import MetricResult, ModelVersion, Series

# Bounds how long a read may miss a change made behind the API's back (admin deletions).
SERIES_CACHE_SECONDS = 600


def find_series(*, model, metric, dataset=None, dataset_version=None, slice="overall") -> Series:
    """The series of one metric and slice. Without ``dataset`` the model must have been
    evaluated on a single dataset name; without ``dataset_version`` the latest one used."""
    candidates = Series.objects.filter(model=model, metric__name=metric, slice=slice)
    if dataset is not None:
        candidates = candidates.filter(dataset__name=dataset)
    if dataset_version is not None:
        candidates = candidates.filter(dataset__version=dataset_version)
    candidates = list(candidates.select_related("metric", "dataset").order_by("-touched_at"))
    if not candidates:
        raise Http404(_missing_series_message(model, metric, dataset, dataset_version, slice))
    names = {series.dataset.name for series in candidates}
    if len(names) > 1:
        raise AmbiguousDataset(sorted(names))
    return candidates[0]


def series_points(*, series, limit=None) -> list[dict]:
    """The series' results in time order (the latest ``limit`` only, if given)."""
    rows = (
        MetricResult.objects.filter(series=series)
        .order_by("-recorded_at", "-run_id")
        .values_list("model_version_id", "value", "n", "ci_low", "ci_high", "run_id", "recorded_at")
    )
    if limit is not None:
        rows = rows[:limit]
    rows = list(rows)
    # All the model's versions: cheaper than an IN list of thousands of ids.
    labels = dict(ModelVersion.objects.filter(model_id=series.model_id).values_list("pk", "label"))
    # Plain dicts: at 5,000 points a serializer per point costs more than the query.
    return [
        {
            "version": labels[version_id],
            "value": value,
            "n": n,
            "ci_low": ci_low,
            "ci_high": ci_high,
            "run_id": run_id,
            "at": at,
        }
        for version_id, value, n, ci_low, ci_high, run_id, at in reversed(rows)
    ]


def series_points_json(*, series, limit=None) -> bytes:
    """``series_points`` as JSON, cached until a run touches the series again (its
    ``touched_at`` is part of the key), so a dashboard's repeated reads skip the query."""
    key = f"series-points:{series.pk}:{series.touched_at.timestamp()}:{limit}"
    payload = cache.get(key)
    if payload is None:
        points = series_points(series=series, limit=limit)
        payload = orjson.dumps(points, option=orjson.OPT_UTC_Z)
        cache.set(key, payload, timeout=SERIES_CACHE_SECONDS)
    return payload


class AmbiguousDataset(Exception):
    def __init__(self, names):
        super().__init__(names)
        self.names = names


def _missing_series_message(model, metric, dataset, dataset_version, slice):
    where = f" on {dataset}" if dataset else ""
    if dataset_version:
        where += f"@{dataset_version}"
    return f"No results for {metric}{where} (slice '{slice}') of model '{model.name}'."
