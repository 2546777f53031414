"""Answers built directly, in the serializers' shape field for field: the answer to a post
(RunCreatedSerializer's; tests/test_query_budget.py compares the two) and a page of the runs
list (RunSerializer's; tests/test_runs_list.py). At 20 metrics and as many gate checks, the
serializer's per-field machinery costs more CPU than storing the run; for a page of 100 runs
of 60 results it cost 0.6 s."""

import orjson
from rest_framework import ISO_8601, serializers
from rest_framework.settings import api_settings

from evaluations import links

_TIME = serializers.DateTimeField()


def run_created_data(run) -> dict:
    """``RunCreatedSerializer(run).data`` for a stored run with ``result_list`` and
    ``gate_result`` (the verdict as ``services.gate.verdict_data`` shapes it)."""
    version, dataset = run.model_version, run.dataset
    return {
        "id": run.pk,
        "url": links.run_url(run),
        "model": version.model.name,
        "version": version.label,
        "commit": run.commit,
        "branch": run.branch,
        "base_branch": run.base_branch,
        "branch_url": links.branch_url(run),
        "dataset": {"name": dataset.name, "version": dataset.version, "size": _int(dataset.size)},
        "environment": run.environment,
        "external_id": run.external_id,
        "seed": _int(run.seed),
        "started_at": _time(run.started_at),
        "finished_at": _time(run.finished_at),
        "recorded_at": _time(run.recorded_at),
        "created_at": _time(run.created_at),
        "ci_url": run.ci_url,
        "metadata": run.metadata,
        "metrics": [_result_data(result) for result in run.result_list],
        "gate": run.gate_result,
    }


def run_list_data(rows, *, project) -> list[dict]:
    """``RunSerializer(runs, many=True).data`` for the runs of ``project`` that
    ``selectors.run_rows`` read: their results are JSON already, which the renderer copies."""
    run_url, time = links.run_urls(), _time_writer()
    line_paths = {}  # the runs of a page mostly share a model, dataset and line of history

    def branch_url(row):
        key = (row.model, row.dataset_name, row.dataset_version, row.branch, row.environment)
        if key not in line_paths:
            line_paths[key] = links.run_line_path(
                project, row.model, key[1:3], row.branch, row.environment
            )
        return links.absolute(line_paths[key])

    return [
        {
            "id": row.id,
            "url": run_url(row.id),
            "model": row.model,
            "version": row.version,
            "commit": row.commit,
            "branch": row.branch,
            "base_branch": row.base_branch,
            "branch_url": branch_url(row),
            "dataset": {
                "name": row.dataset_name,
                "version": row.dataset_version,
                "size": _int(row.dataset_size),
            },
            "environment": row.environment,
            "external_id": row.external_id,
            "seed": _int(row.seed),
            "started_at": time(row.started_at),
            "finished_at": time(row.finished_at),
            "recorded_at": time(row.recorded_at),
            "created_at": time(row.created_at),
            "ci_url": row.ci_url,
            "metadata": row.metadata,
            "metrics": orjson.Fragment(row.results),
        }
        for row in rows
    ]


def _result_data(result):
    metric = result.series.metric
    return {
        "name": metric.name,
        "slice": result.series.slice,
        "value": float(result.value),
        "n": _int(result.n),
        "n_pos": _int(result.n_pos),
        "n_neg": _int(result.n_neg),
        "ci_low": _float(result.ci_low),
        "ci_high": _float(result.ci_high),
        "direction": metric.direction,
        "kind": metric.kind,
        "unit": metric.unit,
    }


def _int(value):
    return None if value is None else int(value)


def _float(value):
    return None if value is None else float(value)


def _time(value):
    return None if value is None else _TIME.to_representation(value)


def _time_writer():
    """``_time`` for many times: DRF's DateTimeField looks the time zone up for each (20 µs
    a time, 8 ms for the 400 times of a page); here it is looked up once."""
    zone = _TIME.default_timezone()
    if zone is None or api_settings.DATETIME_FORMAT.lower() != ISO_8601:
        return _time

    def write(value):
        if value is None or value.tzinfo is None:
            return _time(value)
        written = value.astimezone(zone).isoformat()
        return written[:-6] + "Z" if written.endswith("+00:00") else written

    return write
