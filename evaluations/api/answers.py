"""The answer to a post, built directly: RunCreatedSerializer's shape, field for field
(tests/test_query_budget.py compares the two). At 20 metrics and as many gate checks, the
serializer's per-field machinery costs more CPU than storing the run."""

from rest_framework import serializers

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
