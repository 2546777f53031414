"""Gating with no server: a run body's results against a baseline file, by the engine the server
runs (``gate.evaluate``), answered in the server's shape so one reporting path serves both.
"""

from . import gate, metric_catalog
from .baseline_file import by_key, parse_dataset, parse_result
from .jsonfile import Fields, InvalidFile

CHECK_FIELDS = (
    "metric", "slice", "rule", "status", "message", "value", "baseline", "limit", "delta",
    "p_value", "q_value", "method", "budget_used", "replicates", "baseline_replicates", "sd",
    "baseline_sd",
)  # fmt: skip


def gate_run(body, baseline_file, *, file_name="results.json") -> dict:
    """``{"status": ..., "base_branch": ..., "checks": [...]}`` for the run ``body`` (as POST
    /api/v1/runs/ takes it) against ``baseline_file`` (a BaselineFile); InvalidFile names what
    is wrong."""
    fields = Fields(body, file_name)
    dataset = parse_dataset(fields)
    _check_same_dataset(dataset, baseline_file, file_name)
    verdict = gate.evaluate(
        candidate=candidate_results(fields, baseline_file, dataset),
        baseline=baseline_file.baseline,
        rules=baseline_file.rules,
        dataset=dataset.name,
        dataset_version=dataset.version,
        is_baseline=is_baseline_run(fields.text("version"), dataset, baseline_file),
    )
    checks = [check_as_dict(c) for c in verdict.checks]
    if baseline_file.branch is None:
        return {"status": verdict.status, "checks": checks}
    return {"status": verdict.status, "base_branch": baseline_file.branch, "checks": checks}


def is_baseline_run(version, dataset, baseline_file):
    """The baseline's own version on the baseline's dataset version passes trivially."""
    return version == baseline_file.version and dataset.version == baseline_file.dataset.version


def candidate_results(fields, baseline_file, dataset) -> list[gate.Result]:
    """The body's metrics, in either form, as gate Results. A metric without a direction takes
    the baseline's; outcomes count the metric's n examples, else the dataset's size (the
    body's, else the file's when both name the same dataset version)."""
    directions = {r.metric: r.direction for r in baseline_file.baseline.results.values()}
    if isinstance(fields.data.get("metrics"), dict):
        results = _shorthand(fields.object("metrics"), directions)
    else:
        size = dataset.size
        if size is None and dataset.version == baseline_file.dataset.version:
            size = baseline_file.dataset.size
        results = [
            parse_result(item, name_key="name", size=size, directions=directions)
            for item in fields.objects("metrics")
        ]
    if not results:
        raise fields.error("metrics", "at least one metric is required")
    return list(by_key(results, fields, "metrics").values())


def _shorthand(metrics, directions):
    """``{"accuracy": 0.931, ...}``: names and values, on the overall slice."""
    return [
        gate.Result(
            metric=name,
            value=metrics.number(name),
            direction=directions.get(name) or metric_catalog.defaults_for(name).direction,
        )
        for name in metrics.data
    ]


def _check_same_dataset(dataset, baseline_file, file_name):
    expected = baseline_file.dataset
    if dataset.name != expected.name:
        raise InvalidFile(
            f"{file_name}: the run is on dataset {dataset.name!r}, but the baseline file is for "
            f"{expected.name!r} (export the baseline with ?dataset={dataset.name})"
        )
    same_version = dataset.version == expected.version
    if same_version and None not in (dataset.size, expected.size) and dataset.size != expected.size:
        raise InvalidFile(
            f"{file_name}: dataset.size: {dataset.label} has {expected.size} examples in the "
            f"baseline file, not {dataset.size} (a dataset's size cannot change: post a new "
            "version)"
        )


def check_as_dict(check) -> dict:
    """A gate.Check in the shape the server answers with."""
    answer = {name: getattr(check, name) for name in CHECK_FIELDS}
    answer["passed"] = check.passed
    return answer
