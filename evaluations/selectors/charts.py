"""The model page's data: every metric's history on one dataset, shaped for the charts with
pandas in a fixed number of queries however many versions, metrics and slices there are.

The payload is compact on purpose: the runs (the x axis) are listed once, and each series
carries only its values aligned to them, so 1,000 versions x 20 metrics stay well under a
megabyte per slice."""

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from django.db import connection
from django.db.models import Max
from django.urls import reverse

from evaluations.models import EvaluationRun, Finding, MetricResult, Series
from evaluations.selectors.findings import marks_for
from evaluations.selectors.gate import current_pin, rules_for
from evaluations.selectors.replicates import collapsed_axis, place_sets
from trackerclient import gate

# Digits kept in chart values: finer than any chart or hover shows, coarse enough to halve
# the payload of values stored at full double precision.
SIGNIFICANT_DIGITS = 7
# Findings drawn per chart: the ongoing ones and the latest closed ones.
FINDINGS_PER_SERIES = 10
ALL_SLICES = "*"


@dataclass(frozen=True)
class DatasetChoice:
    id: int
    name: str
    version: str

    @property
    def label(self):
        return f"{self.name}@{self.version}" if self.version else self.name


def dataset_of(series) -> DatasetChoice:
    return DatasetChoice(series.dataset_id, series.dataset.name, series.dataset.version)


@dataclass(frozen=True)
class Line:
    """One line of a model's history: a branch in an environment."""

    branch: str
    environment: str = "offline"

    def series(self, model):
        return Series.objects.filter(
            model=model, branch__name=self.branch, environment=self.environment
        )

    def runs(self, model):
        return EvaluationRun.objects.filter(
            model_version__model=model, branch=self.branch, environment=self.environment
        )


def default_line(model) -> Line:
    return Line(model.project.default_branch)


def dataset_choices(*, model, line: Line | None = None) -> list[DatasetChoice]:
    """The datasets the model has results on (on ``line``, when given), the most recently
    used first."""
    rows = (
        (line.series(model) if line else Series.objects.filter(model=model))
        .values("dataset_id", "dataset__name", "dataset__version")
        .annotate(latest=Max("touched_at"))
        .order_by("-latest", "dataset__name", "dataset__version")
    )
    return [DatasetChoice(r["dataset_id"], r["dataset__name"], r["dataset__version"]) for r in rows]


def pick_dataset(choices, *, name=None, version=None) -> DatasetChoice | None:
    """The chosen dataset: by name (and version; the latest used version without one),
    else the most recently used."""
    if name is None:
        return choices[0] if choices else None
    for choice in choices:
        if choice.name == name and (version is None or choice.version == version):
            return choice
    return None


def slices_on(*, model, dataset: DatasetChoice, line: Line) -> list[str]:
    """The slices the model has results on in the dataset, ``overall`` first."""
    names = line.series(model).filter(dataset_id=dataset.id).values_list("slice", flat=True)
    return sorted(set(names), key=lambda name: (name != "overall", name))


def model_charts(
    *, model, dataset: DatasetChoice, slice="overall", last=None, metric=None,
    line: Line | None = None, over: Line | None = None,
) -> dict:  # fmt: skip
    """Every metric (or just ``metric``) of ``model`` on ``dataset`` for one slice (or every
    slice with ``ALL_SLICES``) on ``line`` (the default branch, offline, unless named):
    values per run (the latest ``last`` runs only, if given), baseline, threshold limits,
    fitted trend, findings. With ``over``, another line's values of the same metrics and
    slices too (``over`` per series), on one x axis of both lines' runs in time order: a pull
    request's branch over the main line, production over offline."""
    line = line or default_line(model)
    shown = _shown(model, dataset, line, slice, metric)
    runs, alias = collapsed_axis(*_axis(model, dataset, line, over))
    if last is not None:
        runs = runs.iloc[-last:]
    values = _values(shown, runs, trimmed=last is not None, alias=alias)
    over_values = {}
    if over is not None:
        beneath = {(s.metric_id, s.slice): s for s in _shown(model, dataset, over, slice, metric)}
        aligned = _values(list(beneath.values()), runs, trimmed=last is not None, alias=alias)
        over_values = {
            series.pk: aligned.get(beneath[key].pk)
            for series in shown
            if (key := (series.metric_id, series.slice)) in beneath
        }
    # A branch without its own baseline is judged against the default branch's.
    pin = current_pin(model=model, dataset_name=dataset.name, branch=line.branch)
    if pin is None and line.branch != model.project.default_branch:
        pin = current_pin(
            model=model, dataset_name=dataset.name, branch=model.project.default_branch
        )
    if pin is not None and pin.run.environment != line.environment:
        pin = None  # an offline baseline is no baseline for production's numbers
    baseline = _baseline_values(pin, shown, dataset)
    rules = list(rules_for(model=model, dataset_name=dataset.name))
    findings = _findings(shown)
    metrics = {}
    for series in shown:
        entry = metrics.setdefault(
            series.metric.name,
            {
                "name": series.metric.name,
                "direction": series.metric.direction,
                "kind": series.metric.kind,
                "unit": series.metric.unit,
                "series": [],
            },
        )
        base = baseline.get(series.pk)
        entry["series"].append(
            {
                "slice": series.slice,
                **values.get(series.pk, _empty(len(runs))),
                "baseline": base,
                "thresholds": threshold_limits(rules, series, base),
                "trend": series.trend,
                "findings": findings.get(series.pk, []),
                "over": over_values.get(series.pk),
            }
        )
    return {
        "model": model.name,
        "dataset": {"name": dataset.name, "version": dataset.version},
        "slice": slice,
        "line": {"branch": line.branch, "environment": line.environment},
        "over": None if over is None else {"branch": over.branch, "environment": over.environment},
        "baseline_version": pin.model_version.label if pin else None,
        "baseline_branch": pin.branch.name if pin else None,
        # The pin is per dataset name; its values apply only on the version it ran on.
        "baseline_dataset_version": pin.run.dataset.version if pin else None,
        "runs": _runs_payload(runs),
        "marks": [
            {"version": mark.model_version.label, "note": mark.note}
            for mark in marks_for(model=model)
        ],
        "metrics": list(metrics.values()),
    }


def _shown(model, dataset, line, slice, metric):
    shown = line.series(model).filter(dataset_id=dataset.id)
    if slice != ALL_SLICES:
        shown = shown.filter(slice=slice)
    if metric is not None:
        shown = shown.filter(metric__name=metric)
    return list(shown.select_related("metric").order_by("metric__name", "slice"))


def _axis(model, dataset, line, over):
    """The x axis and, with ``over``, which of its runs stand for the same versions on the
    line: ``{over run id: line run id}``. A version on both lines (production over offline of
    the same versions) is one place on the axis; the others (a pull request's versions over
    main's) take their own places in time order."""
    runs = _runs(model, dataset, [line])
    if over is None:
        return runs, {}
    others = _runs(model, dataset, [over])
    latest = {version: run_id for run_id, version in runs["version"].items()}  # in time order
    alias = {
        run_id: latest[version]
        for run_id, version in others["version"].items()
        if version in latest
    }
    extra = others.drop(index=list(alias))
    if not extra.empty:
        runs = pd.concat([runs, extra]).sort_values(["at"], kind="stable")
    return runs, alias


def _runs(model, dataset, lines) -> pd.DataFrame:
    """The x axis: the model's runs on the dataset and lines in time order, by run id."""
    runs = lines[0].runs(model)
    for line in lines[1:]:
        runs = runs | line.runs(model)
    rows = (
        runs.filter(dataset_id=dataset.id)
        .order_by("recorded_at", "id")
        .values_list(
            "id", "model_version__label", "commit", "model_version__commit", "recorded_at",
            "branch", "seed",
        )
    )  # fmt: skip
    rows = list(rows)
    runs = pd.DataFrame.from_records(
        rows, columns=["run_id", "version", "commit", "version_commit", "at", "branch", "seed"]
    )
    # Seeds as the integers they are: as floats, two seeds near 2**63 would be one.
    runs["seed"] = pd.Series([row[-1] for row in rows], dtype=object)
    runs = runs.set_index("run_id")
    runs["commit"] = runs["commit"].where(runs["commit"] != "", runs["version_commit"])
    return runs


def _runs_payload(runs) -> dict:
    # A version evaluated twice on the dataset gets a suffix: each x position is a category.
    repeat = runs.groupby("version").cumcount()
    labels = runs["version"].where(repeat == 0, runs["version"] + " #" + (repeat + 1).astype(str))
    at = pd.to_datetime(runs["at"], utc=True).dt.strftime("%Y-%m-%d %H:%M")
    return {
        "run_id": runs.index.tolist(),
        "version": labels.tolist(),
        "commit": runs["commit"].str.slice(0, 12).tolist(),
        "branch": runs["branch"].tolist(),
        "at": at.tolist(),
        "url": reverse("run-page", args=[0]).replace("/0/", "/{id}/"),
    }


def _values(series_list, runs, trimmed, alias=None) -> dict:
    """Per series: values, n and intervals aligned to the runs, NaN where a run has none
    (JSON null); n and intervals None when the series has none at all. ``alias`` places the
    results of runs off the axis at the axis run of the same version."""
    run_ids = runs.index
    alias = alias or {}
    if not series_list or len(run_ids) == 0:
        return {}
    results = MetricResult.objects.filter(series__in=[s.pk for s in series_list])
    if trimmed:
        wanted = run_ids.tolist() + [off for off, on in alias.items() if on in run_ids]
        results = results.filter(recorded_at__gte=runs["at"].iloc[0], run_id__in=wanted)
    query, params = results.values_list(
        "series_id", "run_id", "value", "n", "ci_low", "ci_high"
    ).query.sql_with_params()
    # Straight from the cursor into one float array: at 60,000 results, building model
    # rows or a DataFrame row by row would cost more than the query.
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        table = np.array(cursor.fetchall(), dtype=float).reshape(-1, 6)
    ids = [s.pk for s in series_list]
    row = pd.Index(ids).get_indexer(table[:, 0].astype(np.int64))
    placed = table[:, 1].astype(np.int64)
    if alias:
        placed = np.array([alias.get(run_id, run_id) for run_id in placed.tolist()], dtype=np.int64)
    column = run_ids.get_indexer(placed)
    kept = (row >= 0) & (column >= 0)
    grids = {}
    for index, name in enumerate(("value", "n", "ci_low", "ci_high"), start=2):
        grid = np.full((len(ids), len(run_ids)), np.nan)
        grid[row[kept], column[kept]] = (
            _rounded(table[kept, index]) if name != "n" else table[kept, index]
        )
        grids[name] = grid
    has = {name: ~np.isnan(grids[name]).all(axis=1) for name in ("n", "ci_low", "ci_high")}
    shaped = {}
    for k, series_id in enumerate(ids):
        intervals = has["ci_low"][k] and has["ci_high"][k]
        shaped[series_id] = {
            "value": grids["value"][k].tolist(),
            "n": grids["n"][k].tolist() if has["n"][k] else None,
            "ci_low": grids["ci_low"][k].tolist() if intervals else None,
            "ci_high": grids["ci_high"][k].tolist() if intervals else None,
            "replicates": None,
            "sd": None,
        }
    if any(series.replicated for series in series_list):
        place_sets(shaped, series_list, run_ids, alias, _rounded)
    return shaped


def _rounded(values):
    """Values kept to ``SIGNIFICANT_DIGITS`` significant digits."""
    with np.errstate(divide="ignore", invalid="ignore"):
        magnitude = np.floor(np.log10(np.abs(values)))
    magnitude = np.where(np.isfinite(magnitude), magnitude, 0)
    scale = 10.0 ** (SIGNIFICANT_DIGITS - 1 - magnitude)
    return np.round(values * scale) / scale


def _empty(length):
    return {
        "value": [math.nan] * length, "n": None, "ci_low": None, "ci_high": None,
        "replicates": None, "sd": None,
    }  # fmt: skip


def _baseline_values(pin, series_list, dataset) -> dict:
    """The pinned run's value per series (of the same metric, slice and environment: the
    pinned run may be another branch's), when the baseline ran on this dataset version."""
    if pin is None or pin.run.dataset_id != dataset.id:
        return {}
    rows = MetricResult.objects.filter(run_id=pin.run_id).values_list(
        "series__metric_id", "series__slice", "series__environment", "value"
    )
    values = {key[:3]: key[3] for key in rows}
    shaped = {}
    for series in series_list:
        value = values.get((series.metric_id, series.slice, series.environment))
        if value is not None:
            shaped[series.pk] = {"value": value, "version": pin.model_version.label}
    return shaped


def threshold_limits(rules, series, baseline) -> list[dict]:
    """Where the gate's rules put the limits of a series: absolute floors and ceilings, and
    the largest allowed drop from the baseline (the same arithmetic as the gate's checks).
    Each limit carries its rule's slice ("" when the rule applies to every slice), so that a
    chart of every slice tells a limit of one slice from one shared by all."""
    direction = series.metric.direction
    limits = []
    for rule in rules:
        if rule.metric != series.metric.name or rule.slice not in ("", series.slice):
            continue
        limits += [
            {**limit, "slice": rule.slice} for limit in _rule_limits(rule, baseline, direction)
        ]
    return limits


def _rule_limits(rule, baseline, direction) -> list[dict]:
    limits = []
    if rule.min is not None:
        limits.append({"kind": "min", "value": rule.min, "rule": f"min {rule.min:g}"})
    if rule.max is not None:
        limits.append({"kind": "max", "value": rule.max, "rule": f"max {rule.max:g}"})
    if baseline is None:
        return limits
    base = baseline["value"]
    if rule.max_drop is not None:
        limits.append({"kind": "max_drop", "value": _allowed(base, rule.max_drop, direction),
                       "rule": f"max drop {rule.max_drop:g}"})  # fmt: skip
    if rule.max_drop_pct is not None:
        margin = abs(base) * rule.max_drop_pct / 100
        limits.append({"kind": "max_drop_pct", "value": _allowed(base, margin, direction),
                       "rule": f"max drop {rule.max_drop_pct:g}%"})  # fmt: skip
    return limits


def _allowed(base, margin, direction):
    """The worst value within ``margin`` of the baseline."""
    return base - margin if direction == gate.HIGHER else base + margin


def _findings(series_list) -> dict:
    """Per series, its ongoing findings and the latest closed ones (newest first)."""
    found = (
        Finding.objects.filter(series__in=[s.pk for s in series_list])
        .select_related("start_version", "end_version")
        .order_by("series_id", "-last_seen_at", "-id")
    )
    shaped = {}
    for finding in found:
        items = shaped.setdefault(finding.series_id, [])
        ongoing = finding.status in (Finding.Status.OPEN, Finding.Status.ACKNOWLEDGED)
        if not ongoing and len(items) >= FINDINGS_PER_SERIES:
            continue
        items.append(
            {
                "id": finding.pk,
                "kind": finding.kind,
                "status": finding.status,
                "start_version": finding.start_version.label if finding.start_version else None,
                "end_version": finding.end_version.label if finding.end_version else None,
                "message": finding.message,
                "url": reverse("finding-page", args=[finding.pk]),
            }
        )
    return shaped


def summary_rows(data) -> list[dict]:
    """The table under the charts (readable without JavaScript): per metric and slice, the
    latest value, the baseline, the change and the ongoing findings."""
    versions = data["runs"]["version"]
    rows = []
    for metric in data["metrics"]:
        for series in metric["series"]:
            values = series["value"]
            latest = next((i for i in reversed(range(len(values))) if _present(values[i])), None)
            value = series["value"][latest] if latest is not None else None
            base = series["baseline"]["value"] if series["baseline"] else None
            delta = value - base if value is not None and base is not None else None
            rows.append(
                {
                    "metric": metric["name"],
                    "kind": metric["kind"],
                    "unit": metric["unit"],
                    "slice": series["slice"],
                    "version": versions[latest] if latest is not None else None,
                    "value": value,
                    "baseline": base,
                    "delta": delta,
                    "change": _change(delta, metric["direction"]),
                    "findings": [f for f in series["findings"] if f["status"] in Finding.ACTIVE],
                }
            )
    return rows


def _present(value):
    return value is not None and not math.isnan(value)


def _change(delta, direction):
    if delta is None or delta == 0:
        return "same"
    return "better" if (delta > 0) == (direction == gate.HIGHER) else "worse"


def versions_on(*, model, dataset: DatasetChoice, line: Line | None = None) -> list[str]:
    """The versions evaluated on the dataset (on ``line``, when given), the latest first."""
    runs = line.runs(model) if line else EvaluationRun.objects.filter(model_version__model=model)
    labels = (
        runs.filter(dataset_id=dataset.id)
        .order_by("-recorded_at", "-id")
        .values_list("model_version__label", flat=True)
    )
    return list(dict.fromkeys(labels))


def default_pair(versions, pinned, chosen) -> tuple[str | None, str | None]:
    """The versions to compare: the chosen ones, else the baseline (or the one before the
    latest) against the latest."""
    b = chosen.get("b") or (versions[0] if versions else None)
    a = chosen.get("a")
    if not a:
        if pinned and pinned != b:
            a = pinned
        else:
            a = next((label for label in versions if label != b), None)
    return a, b


def finding_chart(*, finding, context_points=20) -> dict:
    """The chart data of a finding's series, from ``context_points`` runs before the change
    it found to the latest run."""
    series = finding.series
    data = model_charts(
        model=series.model, dataset=dataset_of(series), slice=series.slice,
        metric=series.metric.name, line=Line(series.branch.name, series.environment),
    )  # fmt: skip
    versions = data["runs"]["version"]
    start_label = finding.start_version.label if finding.start_version else None
    start = versions.index(start_label) if start_label in versions else len(versions) - 1
    keep = slice(max(0, start - context_points), None)
    data["runs"] = {
        key: (values[keep] if isinstance(values, list) else values)
        for key, values in data["runs"].items()
    }
    for metric in data["metrics"]:
        for entry in metric["series"]:
            for key in ("value", "n", "ci_low", "ci_high"):
                if entry[key] is not None:
                    entry[key] = entry[key][keep]
            if entry["over"] is not None:
                entry["over"] = {k: v and v[keep] for k, v in entry["over"].items()}
    return data
