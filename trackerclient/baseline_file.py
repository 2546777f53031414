"""The baseline file: a model's pinned baseline and threshold rules on one dataset, as the
tracker exports them (``GET /api/v1/models/{name}/baseline/?dataset=...&format=file``), so
that CI can gate a run with no server::

    {"format": "model-metrics-tracker/baseline@1", "model": "fraud-detector",
     "dataset": {"name": "holdout", "version": "2024-06", "size": 10000},
     "branch": "main", "version": "1.3.0", "pinned_at": "2026-11-20T10:00:00Z",
     "results": [{"metric": "accuracy", "slice": "overall", "value": 0.931,
                  "direction": "higher_is_better", "n": 10000, "ci_low": null,
                  "ci_high": null, "outcomes": null, "replicates": 1, "sd": null}],
     "rules": [{"metric": "accuracy", "slice": null, "min": 0.9, "max": null, "max_drop": 0.005,
                "max_drop_pct": null, "significance": 0.05, "budget": 0.02,
                "anchor_version": "1.0.0", "anchor": [{"slice": "overall", "value": 0.931}]}]}

A pinned version of several seeds is its replicate sets: each result's value is the seeds'
mean, ``replicates`` their count and ``sd`` their spread (files without the two are single
runs). Unknown fields in a rule are refused rather than ignored: a threshold this client does not
understand would make its verdict differ from the server's.
"""

from dataclasses import dataclass, replace
from pathlib import Path

from . import gate, metric_catalog, stats
from .jsonfile import Fields, read_object

FORMAT = "model-metrics-tracker/baseline@1"
DIRECTIONS = (metric_catalog.HIGHER, metric_catalog.LOWER)
RULE_LIMITS = ("min", "max", "max_drop", "max_drop_pct", "significance", "budget")
RULE_FIELDS = ("metric", "slice", *RULE_LIMITS, "anchor_version", "anchor")


@dataclass(frozen=True)
class Dataset:
    name: str
    version: str = ""
    size: int | None = None

    @property
    def label(self):
        return f"{self.name}@{self.version}" if self.version else self.name


@dataclass(frozen=True)
class BaselineFile:
    """What ``gate.evaluate`` needs, and which model and dataset the baseline belongs to."""

    model: str
    dataset: Dataset
    baseline: gate.Baseline
    rules: list[gate.Rule]
    pinned_at: str | None = None
    # The branch whose baseline this is (files exported before branches existed: None).
    branch: str | None = None

    @property
    def version(self):
        return self.baseline.version


def load(path) -> BaselineFile:
    """The baseline file at ``path``, validated; InvalidFile names the bad field."""
    fields = Fields(read_object(path), Path(path).name)
    _check_format(fields)
    dataset = parse_dataset(fields)
    results = [
        _replicate_set(item, parse_result(item, name_key="metric", size=dataset.size))
        for item in fields.objects("results")
    ]
    return BaselineFile(
        model=fields.text("model"),
        dataset=dataset,
        baseline=gate.Baseline(
            version=fields.text("version"),
            dataset_version=dataset.version,
            results=by_key(results, fields, "results"),
        ),
        rules=[_rule(item) for item in fields.objects("rules")],
        pinned_at=fields.text("pinned_at", None),
        branch=fields.text("branch", None),
    )


def _check_format(fields):
    found = fields.data.get("format")
    if found != FORMAT:
        raise fields.error(
            "format",
            f"is {found!r}, but this client reads {FORMAT!r} files (export one with "
            "GET /api/v1/models/<model>/baseline/?dataset=<name>&format=file)",
        )


def parse_dataset(fields) -> Dataset:
    """``"holdout"`` or ``{"name": "holdout", "version": "2024-06", "size": 10000}``."""
    if isinstance(fields.data.get("dataset"), str):
        return Dataset(name=fields.text("dataset"))
    dataset = fields.object("dataset")
    return Dataset(
        name=dataset.text("name"),
        version=dataset.text("version", ""),
        size=dataset.count("size", None),
    )


def parse_result(fields, *, name_key, size, directions=None) -> gate.Result:
    """One metric result. Its direction is its own, else ``directions[name]`` (the baseline's
    for that metric), else the catalogue's. Its outcomes count its ``n`` examples, else the
    dataset's ``size``, as the server counts them."""
    name = fields.text(name_key)
    direction = (
        fields.choice("direction", DIRECTIONS, None)
        or (directions or {}).get(name)
        or metric_catalog.defaults_for(name).direction
    )
    ci_low, ci_high = fields.number("ci_low", None), fields.number("ci_high", None)
    if (ci_low is None) != (ci_high is None):
        raise fields.error("ci_low" if ci_low is None else "ci_high", "goes with the other bound")
    if ci_low is not None and ci_low > ci_high:
        raise fields.error("ci_low", "must not be above ci_high")
    n = fields.count("n", None)
    n_pos, n_neg = fields.count("n_pos", None), fields.count("n_neg", None)
    if (n_pos is None) != (n_neg is None):
        raise fields.error("n_pos" if n_pos is None else "n_neg", "goes with the other count")
    return gate.Result(
        metric=name,
        value=fields.number("value"),
        direction=direction,
        slice=fields.text("slice", "overall"),
        n=n,
        n_pos=n_pos,
        n_neg=n_neg,
        ci_low=ci_low,
        ci_high=ci_high,
        outcomes=_outcomes(fields, n or size),
    )


def _replicate_set(fields, result) -> gate.Result:
    """A baseline result that is a replicate set (``replicates`` above 1): its value the seeds'
    mean and ``sd`` their spread, as the server's gate judges it."""
    count = fields.count("replicates", 1)
    if count == 1:
        return result
    sd = fields.number("sd")
    if sd < 0:
        raise fields.error("sd", "must not be negative")
    return replace(result, replicates=count, sd=sd)


def by_key(results, fields, key) -> dict:
    """``{(metric, slice): result}``, refusing a metric given twice on one slice."""
    found = {}
    for index, result in enumerate(results):
        if result.key in found:
            raise fields.error(
                f"{key}[{index}]",
                f"{result.metric} on slice {result.slice!r} is given twice "
                f"(first at {key}[{found[result.key][0]}])",
            )
        found[result.key] = (index, result)
    return {result_key: result for result_key, (_, result) in found.items()}


def _outcomes(fields, size):
    encoded = fields.get("outcomes", None, _string, "a base64 string")
    if encoded is None:
        return None
    if size is None:
        raise fields.error("outcomes", "counting them needs the metric's n or dataset.size")
    try:
        return stats.decode_outcomes(encoded, size)
    except ValueError as exc:
        raise fields.error("outcomes", str(exc)) from None


def _string(value):
    return value if isinstance(value, str) else None


def _rule(fields) -> gate.Rule:
    fields.refuse_unknown(RULE_FIELDS)
    metric = fields.text("metric")
    limits = {name: fields.number(name, None) for name in RULE_LIMITS}
    for name in ("max_drop", "max_drop_pct", "budget"):
        if limits[name] is not None and limits[name] < 0:
            raise fields.error(name, "must not be negative")
    if limits["significance"] is not None and not 0 < limits["significance"] < 1:
        raise fields.error("significance", "must be an alpha between 0 and 1, e.g. 0.05")
    anchor = {}
    if fields.data.get("anchor") is not None:
        for item in fields.objects("anchor"):
            anchor[(metric, item.text("slice", "overall"))] = item.number("value")
    return gate.Rule(
        metric=metric,
        slice=fields.text("slice", None),
        anchor=anchor,
        anchor_version=fields.text("anchor_version", None),
        **limits,
    )
