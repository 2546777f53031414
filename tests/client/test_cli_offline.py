"""Gating offline against a baseline file: no server, the same engine and reports, exit 0/1 by
the verdict, and clear refusals (exit 2) of files that do not fit."""

import base64
import copy
import json
from pathlib import Path

import numpy as np
import pytest

from trackerclient import baseline_file, cli, offline
from trackerclient.gate import Baseline, Result, Rule
from trackerclient.jsonfile import InvalidFile

BASELINE_FILE = {
    "format": "model-metrics-tracker/baseline@1",
    "model": "fraud-detector",
    "dataset": {"name": "holdout", "version": "2024-06", "size": 10000},
    "version": "1.3.0",
    "pinned_at": "2026-11-20T10:00:00Z",
    "results": [
        {"metric": "accuracy", "slice": "overall", "value": 0.931,
         "direction": "higher_is_better", "n": 10000, "ci_low": None, "ci_high": None,
         "outcomes": None},
    ],
    "rules": [
        {"metric": "accuracy", "slice": None, "min": 0.9, "max": None, "max_drop": 0.005,
         "max_drop_pct": None, "significance": 0.05, "budget": 0.02,
         "anchor_version": "1.0.0", "anchor": [{"slice": "overall", "value": 0.931}]},
    ],
}  # fmt: skip


@pytest.fixture
def baseline_doc():
    return copy.deepcopy(BASELINE_FILE)


@pytest.fixture
def gate_offline(write_json, monkeypatch):
    """Run the client offline on a run body and a baseline file; no tracker configured."""
    monkeypatch.delenv("TRACKER_URL", raising=False)
    monkeypatch.delenv("TRACKER_TOKEN", raising=False)

    def run(body, baseline, *extra):
        results = write_json("results.json", body)
        return cli.main(["post", results, "--baseline-file", write_json("base.json", baseline),
                         *extra])  # fmt: skip

    return run


def statuses(out):
    """{(metric[slice], rule): status} from the printed table."""
    rows = [line.split() for line in out.splitlines()[1:] if line and not line.startswith("Gate")]
    return {(row[1], row[2]): row[0] for row in rows}


def test_a_run_within_the_rules_passes(gate_offline, run_body, baseline_doc, capsys):
    code = gate_offline(run_body, baseline_doc)

    out = capsys.readouterr().out
    assert code == 0
    assert statuses(out) == {
        ("accuracy[overall]", "min"): "passed",
        ("accuracy[overall]", "max_drop"): "passed",
        ("accuracy[overall]", "budget"): "passed",
    }
    assert "Gate PASSED for fraud-detector 1.4.0 on holdout@2024-06: 3 of 3 checks passed" in out
    assert "against baseline 1.3.0 of fraud-detector on holdout@2024-06 from base.json" in out


def test_a_drop_beyond_max_drop_fails(gate_offline, run_body, baseline_doc, capsys):
    run_body["metrics"][0]["value"] = 0.915

    code = gate_offline(run_body, baseline_doc)

    out = capsys.readouterr().out
    assert code == 1
    assert statuses(out)[("accuracy[overall]", "max_drop")] == "failed"
    assert "accuracy 0.915 < baseline 0.931 - 0.005 on holdout" in out
    assert "Gate FAILED" in out


def test_a_metric_missing_from_the_run_fails(gate_offline, run_body, baseline_doc, capsys):
    baseline_doc["results"].append({"metric": "recall", "slice": "country=DE", "value": 0.8})

    code = gate_offline(run_body, baseline_doc)

    out = capsys.readouterr().out
    assert code == 1
    assert statuses(out)[("recall[country=DE]", "missing")] == "failed"


def test_another_dataset_version_is_not_compared(gate_offline, run_body, baseline_doc, capsys):
    run_body["dataset"]["version"] = "2024-09"
    # Beyond max_drop, within the budget (the budget check ignores dataset versions).
    run_body["metrics"][0]["value"] = 0.92

    code = gate_offline(run_body, baseline_doc)

    out = capsys.readouterr().out
    assert code == 0
    assert statuses(out)[("accuracy[overall]", "max_drop")] == "not_comparable"
    assert "holdout@2024-09, the baseline 1.3.0 on holdout@2024-06; not compared" in out


def packed(bits):
    return base64.b64encode(np.packbits(bits).tobytes()).decode()


@pytest.mark.parametrize(
    "counted_by", ["the metric's n", "the run's dataset size", "the baseline file's dataset size"]
)
def test_outcomes_are_decoded_and_compared_with_mcnemar(
    counted_by, gate_offline, run_body, baseline_doc, capsys
):
    rng = np.random.default_rng(5)
    base_bits = rng.uniform(size=2000) < 0.9
    new_bits = base_bits.copy()
    new_bits[rng.choice(np.flatnonzero(base_bits), size=14, replace=False)] = False
    baseline_doc["dataset"]["size"] = 2000
    baseline_doc["results"][0].update(value=base_bits.mean(), n=2000, outcomes=packed(base_bits))
    baseline_doc["rules"] = [{"metric": "accuracy", "significance": 0.05}]
    accuracy = {"name": "accuracy", "value": new_bits.mean(), "outcomes": packed(new_bits)}
    run_body["metrics"] = [accuracy]
    run_body["dataset"]["size"] = None
    if counted_by == "the metric's n":
        accuracy["n"] = 2000
    elif counted_by == "the run's dataset size":
        run_body["dataset"]["size"] = 2000

    code = gate_offline(run_body, baseline_doc)

    out = capsys.readouterr().out
    assert code == 1
    assert statuses(out)[("accuracy[overall]", "significance")] == "failed"
    assert "McNemar 14 vs 0" in out


def test_outcomes_of_the_wrong_length_are_refused(gate_offline, run_body, baseline_doc, capsys):
    run_body["metrics"][0]["outcomes"] = packed(np.ones(80, dtype=bool))

    code = gate_offline(run_body, baseline_doc)

    assert code == 2
    err = capsys.readouterr().err
    assert "results.json: metrics[0].outcomes: 10 bytes hold up to 80 outcomes" in err
    assert "10000 examples" in err


def test_shorthand_metrics_take_the_baselines_direction(
    gate_offline, run_body, baseline_doc, capsys
):
    # "throughput_score" would be higher-is-better by its name; the baseline says otherwise.
    baseline_doc["results"] = [
        {"metric": "throughput_score", "value": 40.0, "direction": "lower_is_better"}
    ]
    baseline_doc["rules"] = [{"metric": "throughput_score", "max_drop": 1.0}]
    run_body["metrics"] = {"throughput_score": 45.0}

    code = gate_offline(run_body, baseline_doc)

    out = capsys.readouterr().out
    assert code == 1
    assert "throughput_score 45 > baseline 40 + 1 on holdout" in out


def test_the_baseline_version_itself_passes(gate_offline, run_body, baseline_doc, capsys):
    run_body["version"] = "1.3.0"
    run_body["metrics"][0]["value"] = 0.5

    code = gate_offline(run_body, baseline_doc)

    out = capsys.readouterr().out
    assert code == 0
    assert "This run is of the baseline version itself." in out


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (lambda doc: doc.update(format="model-metrics-tracker/baseline@2"),
         "base.json: format: is 'model-metrics-tracker/baseline@2', but this client reads "
         "'model-metrics-tracker/baseline@1' files"),
        (lambda doc: doc.pop("format"), "base.json: format: is None"),
        (lambda doc: doc["results"][0].update(value="0.9"),
         "base.json: results[0].value: must be a finite number, not the string '0.9'"),
        (lambda doc: doc["rules"][0].update(max_dorp=0.01),
         "base.json: rules[0].max_dorp: unknown field"),
        (lambda doc: doc["rules"][0].update(significance=5),
         "base.json: rules[0].significance: must be an alpha between 0 and 1"),
        (lambda doc: doc["rules"][0]["anchor"][0].pop("value"),
         "base.json: rules[0].anchor[0].value: is required"),
        (lambda doc: doc["dataset"].pop("name"), "base.json: dataset.name: is required"),
        (lambda doc: doc["results"].append(dict(doc["results"][0])),
         "base.json: results[1]: accuracy on slice 'overall' is given twice (first at "
         "results[0])"),
    ],
)  # fmt: skip
def test_an_invalid_baseline_file_exits_2_naming_the_field(
    change, complaint, gate_offline, run_body, baseline_doc, capsys
):
    change(baseline_doc)

    code = gate_offline(run_body, baseline_doc)

    assert code == 2
    assert f"error: {complaint}" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (lambda body: body.update(dataset="shadow-traffic"),
         "results.json: the run is on dataset 'shadow-traffic', but the baseline file is for "
         "'holdout'"),
        (lambda body: body["dataset"].update(size=9999),
         "results.json: dataset.size: holdout@2024-06 has 10000 examples in the baseline file, "
         "not 9999"),
        (lambda body: body["metrics"][1].update(direction="up"),
         "results.json: metrics[1].direction: must be one of higher_is_better, lower_is_better"),
        (lambda body: body.update(metrics={"accuracy": True}),
         "results.json: metrics.accuracy: must be a finite number, not a boolean"),
        (lambda body: body.update(metrics=[]),
         "results.json: metrics: at least one metric is required"),
        (lambda body: body.pop("version"), "results.json: version: is required"),
    ],
)  # fmt: skip
def test_a_run_that_does_not_fit_the_baseline_exits_2(
    change, complaint, gate_offline, run_body, baseline_doc, capsys
):
    change(run_body)

    code = gate_offline(run_body, baseline_doc)

    assert code == 2
    assert f"error: {complaint}" in capsys.readouterr().err


def test_load_returns_what_the_gate_needs(write_json, baseline_doc):
    baseline_doc["results"].append(
        {"metric": "latency_p95_ms", "slice": "country=DE", "value": 41.0}
    )

    loaded = baseline_file.load(write_json("baselines.json", baseline_doc))

    assert (loaded.model, loaded.dataset.label, loaded.dataset.size) == (
        "fraud-detector", "holdout@2024-06", 10000,
    )  # fmt: skip
    assert loaded.baseline == Baseline(
        version="1.3.0",
        dataset_version="2024-06",
        results={
            ("accuracy", "overall"): Result("accuracy", 0.931, n=10000),
            ("latency_p95_ms", "country=DE"): Result(
                "latency_p95_ms", 41.0, "lower_is_better", slice="country=DE"
            ),
        },
    )
    [rule] = loaded.rules
    assert rule == Rule("accuracy", min=0.9, max_drop=0.005, significance=0.05, budget=0.02,
                        anchor_version="1.0.0")  # fmt: skip
    assert rule.anchor == {("accuracy", "overall"): 0.931}


def test_load_refuses_a_file_that_is_not_json(write_json):
    with pytest.raises(InvalidFile, match=r"baselines.json: not valid JSON"):
        baseline_file.load(write_json("baselines.json", "format: yaml"))


def release_and_export(api, write_json, metrics):
    """Post ``metrics`` as fraud-detector 1.3.0, pin it with rules, and export the file."""
    body = {
        "model": "fraud-detector",
        "version": "1.3.0",
        "metrics": metrics,
        "dataset": {"name": "holdout", "version": "2024-06", "size": 2000},
    }
    assert api.post("/api/v1/runs/", body, format="json").status_code == 201
    pinned = api.put(
        "/api/v1/models/fraud-detector/baseline/",
        {"dataset": "holdout", "version": "1.3.0"},
        format="json",
    )
    assert pinned.status_code in (200, 201), pinned.content
    for rule in (
        {"metric": "accuracy", "significance": 0.05, "budget": 0.02},
        {"metric": "latency_p95_ms", "max": 50, "max_drop_pct": 5},
    ):
        created = api.post("/api/v1/models/fraud-detector/thresholds/", rule, format="json")
        assert created.status_code == 201, created.content
    exported = api.get("/api/v1/models/fraud-detector/baseline/?dataset=holdout&format=file")
    assert exported.status_code == 200, exported.content
    return write_json("baselines.json", exported.content.decode())


@pytest.mark.django_db
def test_offline_verdict_on_an_exported_file_is_the_servers(api, write_json, gate_offline):
    rng = np.random.default_rng(5)
    base_bits = rng.uniform(size=2000) < 0.9
    new_bits = base_bits.copy()
    new_bits[rng.choice(np.flatnonzero(base_bits), size=14, replace=False)] = False
    path = release_and_export(
        api,
        write_json,
        [
            {
                "name": "accuracy",
                "value": base_bits.mean(),
                "n": 2000,
                "outcomes": packed(base_bits),
            },
            {"name": "f1", "value": 0.88, "slice": "country=DE", "n": 400},
            {"name": "latency_p95_ms", "value": 40.0, "direction": "lower_is_better"},
            {"name": "bleu", "value": 31.0, "ci_low": 30.5, "ci_high": 31.5},
        ],
    )
    candidate = {
        "model": "fraud-detector",
        "version": "1.4.0",
        "dataset": {"name": "holdout", "version": "2024-06", "size": 2000},
        "metrics": [
            {"name": "accuracy", "value": new_bits.mean(), "n": 2000, "outcomes": packed(new_bits)},
            {"name": "latency_p95_ms", "value": 41.2},
            {"name": "bleu", "value": 29.0, "ci_low": 28.5, "ci_high": 29.5},
        ],
    }

    server = api.post("/api/v1/runs/?dry_run=1", candidate, format="json").json()["gate"]
    offline_gate = offline.gate_run(candidate, baseline_file.load(path))

    assert offline_gate == server
    assert {(c["metric"], c["rule"]): c["status"] for c in server["checks"]} == {
        ("accuracy", "significance"): "failed",
        ("accuracy", "budget"): "passed",
        ("bleu", "significance"): "failed",
        ("f1", "missing"): "failed",
        ("latency_p95_ms", "max"): "passed",
        ("latency_p95_ms", "max_drop_pct"): "passed",
    }
    assert gate_offline(candidate, json.loads(Path(path).read_text())) == 1
