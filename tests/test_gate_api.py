"""Baselines, threshold rules and the gate verdict that answers every post."""

import base64
import json
from datetime import timedelta

import numpy as np
import pytest

from evaluations.models import BaselinePin, EvaluationRun, RegisteredModel

HOLDOUT = {"name": "holdout", "version": "2024-06", "size": 10000}


@pytest.fixture
def post(api):
    def post(version, metrics, dataset=HOLDOUT, path="/api/v1/runs/", **extra):
        body = {"model": "fraud-detector", "version": version, "dataset": dataset,
                "metrics": metrics, **extra}  # fmt: skip
        return api.post(path, body, format="json")

    return post


@pytest.fixture
def released(post):
    """Version 1.3.0 on holdout: accuracy 0.931 on 10,000 examples, f1 per country."""
    response = post(
        "1.3.0",
        [
            {"name": "accuracy", "value": 0.931, "n": 10000},
            {"name": "f1", "value": 0.88, "slice": "country=DE"},
            {"name": "latency_p99_ms", "value": 100.0},
        ],
    )
    assert response.status_code == 201, response.json()
    return response.json()


def pin(api, version, dataset="holdout", **extra):
    return api.put(
        "/api/v1/models/fraud-detector/baseline/",
        {"dataset": dataset, "version": version, **extra},
        format="json",
    )


def add_rule(api, **rule):
    response = api.post("/api/v1/models/fraud-detector/thresholds/", rule, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def checks_by_rule(response):
    return {(c["metric"], c["slice"], c["rule"]): c for c in response.json()["gate"]["checks"]}


def test_pinning_a_baseline_keeps_its_history_with_who_and_when(api, post, released):
    post("1.4.0", {"accuracy": 0.94, "f1": 0.9})

    first = pin(api, "1.3.0", note="first release")
    second = pin(api, "1.4.0")

    assert first.status_code == 200, first.json()
    body = api.get("/api/v1/models/fraud-detector/baseline/?dataset=holdout").json()
    assert body["baseline"]["version"] == "1.4.0"
    assert body["baseline"]["dataset_version"] == "2024-06"
    assert [h["version"] for h in body["history"]] == ["1.4.0", "1.3.0"]
    assert body["history"][1]["note"] == "first release"
    assert body["history"][0]["pinned_by"].startswith("token mt_")
    assert body["history"][0]["pinned_at"]
    assert {v["metric"]: v["value"] for v in body["values"]} == {"accuracy": 0.94, "f1": 0.9}
    assert second.json()["baseline"]["version"] == "1.4.0"


def test_pinning_a_version_without_a_run_on_the_dataset_is_refused(api, released):
    response = pin(api, "9.9.9")

    assert response.status_code == 400
    assert "9.9.9 has no run on holdout" in response.json()["version"][0]
    assert not BaselinePin.objects.exists()
    assert pin(api, "1.3.0", dataset="").status_code == 400
    assert (
        api.put(
            "/api/v1/models/nope/baseline/", {"dataset": "holdout", "version": "1"}, format="json"
        ).status_code
        == 404
    )


def test_baseline_of_another_project_is_not_found(api, other_api, released):
    pin(api, "1.3.0")

    response = other_api.get("/api/v1/models/fraud-detector/baseline/?dataset=holdout")

    assert response.status_code == 404


def test_without_baseline_or_rules_the_gate_says_no_baseline(post, released):
    response = post("1.4.0", {"accuracy": 0.5})

    assert response.json()["gate"] == {"status": "no_baseline", "base_branch": "main", "checks": []}


def test_a_drop_beyond_max_drop_fails_with_a_readable_check(api, post, released):
    pin(api, "1.3.0")
    add_rule(api, metric="accuracy", max_drop=0.01)

    response = post("1.4.0", [{"name": "accuracy", "value": 0.912, "n": 10000},
                              {"name": "f1", "value": 0.88, "slice": "country=DE"},
                              {"name": "latency_p99_ms", "value": 100.0}])  # fmt: skip

    assert response.status_code == 201
    gate = response.json()["gate"]
    assert gate["status"] == "failed"
    check = checks_by_rule(response)[("accuracy", "overall", "max_drop")]
    assert check["status"] == "failed"
    assert check["passed"] is False
    assert check["value"] == 0.912
    assert check["baseline"] == 0.931
    assert check["limit"] == pytest.approx(0.921)
    assert check["delta"] == pytest.approx(-0.019)
    assert check["message"] == "accuracy 0.912 < baseline 0.931 - 0.01 on holdout (n=10000)"


def test_rules_respect_lower_is_better(api, post, released):
    pin(api, "1.3.0")
    add_rule(api, metric="latency_p99_ms", max=120, max_drop_pct=10)

    faster = post("1.4.0", {"accuracy": 0.931, "f1": 0.88, "latency_p99_ms": 80})
    slower = post("1.5.0", {"accuracy": 0.931, "latency_p99_ms": 115})

    assert checks_by_rule(faster)[("latency_p99_ms", "overall", "max_drop_pct")]["passed"]
    by_rule = checks_by_rule(slower)
    assert by_rule[("latency_p99_ms", "overall", "max_drop_pct")]["status"] == "failed"
    assert by_rule[("latency_p99_ms", "overall", "max")]["status"] == "passed"


def test_a_metric_missing_from_the_new_run_fails(api, post, released):
    pin(api, "1.3.0")

    response = post("1.4.0", {"accuracy": 0.931, "latency_p99_ms": 100})

    assert response.json()["gate"]["status"] == "failed"
    missing = checks_by_rule(response)[("f1", "country=DE", "missing")]
    assert "missing" in missing["message"]


def test_another_dataset_version_is_not_compared(api, post, released):
    pin(api, "1.3.0")
    add_rule(api, metric="accuracy", max_drop=0.01)

    response = post("1.4.0", {"accuracy": 0.5}, dataset={**HOLDOUT, "version": "2024-09"})

    check = checks_by_rule(response)[("accuracy", "overall", "max_drop")]
    assert check["status"] == "not_comparable"
    assert "2024-06" in check["message"] and "2024-09" in check["message"]


def test_the_baseline_version_itself_passes(api, post, released):
    pin(api, "1.3.0")
    add_rule(api, metric="accuracy", max_drop=0.0)

    response = post("1.3.0", {"accuracy": 0.90})

    assert response.json()["gate"]["status"] == "passed"


def test_significance_rule_needs_evidence_not_just_a_difference(api, post):
    post("1.0", [{"name": "accuracy", "value": 0.931, "n": 200}])
    pin(api, "1.0")
    add_rule(api, metric="accuracy", significance=0.05)

    small = post("1.1", [{"name": "accuracy", "value": 0.926, "n": 200}])

    assert small.json()["gate"]["status"] == "passed"
    check = checks_by_rule(small)[("accuracy", "overall", "significance")]
    assert check["p_value"] > 0.4
    assert "two-proportion z-test" in check["method"]


def test_budget_catches_ten_small_steps_each_within_max_drop(api, post):
    value = 0.931
    post("1.0", [{"name": "accuracy", "value": value}])
    pin(api, "1.0")
    add_rule(api, metric="accuracy", max_drop=0.005, budget=0.011)
    statuses = []
    for release in range(1, 11):
        value -= 0.002
        response = post(f"1.{release}", [{"name": "accuracy", "value": value}])
        by_rule = checks_by_rule(response)
        statuses.append(
            (by_rule[("accuracy", "overall", "max_drop")]["status"],
             by_rule[("accuracy", "overall", "budget")]["status"])
        )  # fmt: skip
        pin(api, f"1.{release}")  # each release becomes the next baseline

    assert {step for step, _ in statuses} == {"passed"}
    assert [budget for _, budget in statuses] == ["passed"] * 5 + ["failed"] * 5
    budget = by_rule[("accuracy", "overall", "budget")]
    assert budget["budget_used"] == pytest.approx(0.02 / 0.011)
    assert "since 1.0" in budget["message"]


def test_dry_run_answers_the_verdict_and_stores_nothing(api, post, released):
    pin(api, "1.3.0")
    add_rule(api, metric="accuracy", max_drop=0.01)
    runs_before = EvaluationRun.objects.count()

    response = post("2.0.0", {"accuracy": 0.5, "brand_new_metric": 1},
                    path="/api/v1/runs/?dry_run=1")  # fmt: skip

    assert response.status_code == 200
    assert response.json()["dry_run"] is True
    assert response.json()["gate"]["status"] == "failed"
    assert EvaluationRun.objects.count() == runs_before
    assert not RegisteredModel.objects.get().versions.filter(label="2.0.0").exists()
    assert api.get("/api/v1/runs/?version=2.0.0").json()["count"] == 0


def test_dry_run_for_an_unknown_model_is_no_baseline(api):
    response = api.post(
        "/api/v1/runs/?dry_run=1",
        {"model": "new", "version": "1", "dataset": "d", "metrics": {"accuracy": 0.9}},
        format="json",
    )

    assert response.json() == {
        "dry_run": True,
        "gate": {"status": "no_baseline", "base_branch": "main", "checks": []},
    }
    assert not RegisteredModel.objects.exists()


def test_threshold_rules_crud(api, released):
    created = add_rule(api, metric="accuracy", dataset="holdout", min=0.9, significance=0.05)
    rule_path = f"/api/v1/models/fraud-detector/thresholds/{created['id']}/"

    assert api.get("/api/v1/models/fraud-detector/thresholds/").json()["count"] == 1
    updated = api.patch(rule_path, {"max_drop": 0.005}, format="json")
    assert updated.status_code == 200, updated.json()
    assert updated.json()["min"] == 0.9
    assert updated.json()["max_drop"] == 0.005
    assert api.get(rule_path).json()["dataset"] == "holdout"
    assert api.delete(rule_path).status_code == 204
    assert api.get(rule_path).status_code == 404


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        ({"metric": "accuracy"}, "non_field_errors"),
        ({"metric": "accuracy", "significance": 1.5}, "significance"),
        ({"metric": "accuracy", "max_drop": -1}, "max_drop"),
        ({"metric": "accuracy", "min": 0.9, "max": 0.5}, "min"),
        ({"metric": "accuracy", "min": "0.9"}, "min"),
        ({"min": 0.9}, "metric"),
    ],
)
def test_bad_rules_are_refused_by_field(api, released, rule, field):
    response = api.post("/api/v1/models/fraud-detector/thresholds/", rule, format="json")

    assert response.status_code == 400
    assert field in response.json()


def test_a_second_rule_for_the_same_scope_is_refused(api, released):
    add_rule(api, metric="accuracy", min=0.9)

    response = api.post(
        "/api/v1/models/fraud-detector/thresholds/", {"metric": "accuracy", "max": 1}, format="json"
    )

    assert response.status_code == 400
    assert "metric" in response.json()


def test_baseline_file_export_holds_values_rules_and_anchors(api, released):
    pin(api, "1.3.0")
    add_rule(api, metric="accuracy", max_drop=0.005, budget=0.02)

    response = api.get("/api/v1/models/fraud-detector/baseline/?dataset=holdout&format=file")

    assert response.status_code == 200, response.content
    assert "attachment" in response["Content-Disposition"]
    body = json.loads(response.content)
    assert body["format"] == "model-metrics-tracker/baseline@1"
    assert body["model"] == "fraud-detector"
    assert body["dataset"] == {"name": "holdout", "version": "2024-06", "size": 10000}
    assert body["version"] == "1.3.0"
    values = {(r["metric"], r["slice"]): r["value"] for r in body["results"]}
    assert values[("accuracy", "overall")] == 0.931
    (rule,) = body["rules"]
    assert rule["anchor_version"] == "1.3.0"
    assert rule["anchor"] == [{"slice": "overall", "value": 0.931}]


def test_compare_two_versions_side_by_side(api, post, released):
    post("1.4.0", [{"name": "accuracy", "value": 0.90, "n": 10000},
                   {"name": "latency_p99_ms", "value": 90.0},
                   {"name": "recall", "value": 0.7}])  # fmt: skip

    response = api.get("/api/v1/models/fraud-detector/compare/?a=1.3.0&b=1.4.0&dataset=holdout")

    assert response.status_code == 200
    body = response.json()
    assert (body["a"]["version"], body["b"]["version"], body["comparable"]) == (
        "1.3.0", "1.4.0", True,
    )  # fmt: skip
    rows = {(m["metric"], m["slice"]): m for m in body["metrics"]}
    accuracy = rows[("accuracy", "overall")]
    assert accuracy["delta"] == pytest.approx(-0.031)
    assert accuracy["relative_delta"] == pytest.approx(-0.031 / 0.931)
    assert accuracy["change"] == "worse"
    assert accuracy["significant"] is True
    assert rows[("latency_p99_ms", "overall")]["change"] == "better"
    assert rows[("f1", "country=DE")]["change"] == "only_a"
    assert rows[("recall", "overall")]["change"] == "only_b"


def encode(bits):
    return base64.b64encode(np.packbits(bits).tobytes()).decode()


def test_paired_outcomes_make_the_gate_use_mcnemar(api, post):
    rng = np.random.default_rng(1)
    base = rng.uniform(size=10000) < 0.9
    new = base.copy()
    new[rng.choice(np.flatnonzero(base), size=30, replace=False)] = False
    post("1.0", [{"name": "accuracy", "value": float(base.mean()), "n": 10000,
                  "outcomes": encode(base)}])  # fmt: skip
    pin(api, "1.0")
    add_rule(api, metric="accuracy", significance=0.05)

    response = post("1.1", [{"name": "accuracy", "value": float(new.mean()), "n": 10000,
                             "outcomes": encode(new)}])  # fmt: skip

    check = checks_by_rule(response)[("accuracy", "overall", "significance")]
    assert check["method"] == "McNemar 30 vs 0"
    assert check["status"] == "failed"
    exported = api.get("/api/v1/models/fraud-detector/baseline/?dataset=holdout").json()
    assert exported["values"][0]["outcomes"] == encode(base)


def test_outcomes_of_the_wrong_length_are_refused_by_field(post):
    response = post("1.0", [{"name": "accuracy", "value": 0.9, "n": 10000,
                             "outcomes": encode(np.ones(9000, dtype=bool))}])  # fmt: skip

    assert response.status_code == 400
    assert "10000 examples" in response.json()["metrics"]["0"]["outcomes"][0]
    assert not EvaluationRun.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)  # rows are remembered once committed
def test_a_gated_post_uses_a_bounded_number_of_queries(
    api, post, released, django_assert_max_num_queries
):
    pin(api, "1.3.0")
    add_rule(api, metric="accuracy", max_drop=0.01, budget=0.02)
    add_rule(api, metric="latency_p99_ms", max=120)
    post("1.4.0", {"accuracy": 0.93, "f1": 0.88})

    metrics = [{"name": f"metric_{i}", "value": 0.5} for i in range(20)]
    post("1.5.0", metrics)  # the new metrics' rows too
    # Token, version, run, results, series flags, then the gate's pins, baseline values and
    # rules, and the series' open threshold breaches; the rest is transaction control and the
    # analysis job of the 20 series, which runs in-process here (on a worker in production)
    # and reads them all at once.
    with django_assert_max_num_queries(26):
        response = post("1.6.0", metrics)

    assert response.status_code == 201


def test_a_budget_older_than_two_hundred_pins_still_counts_from_its_anchor(api, post):
    post("1.0", [{"name": "accuracy", "value": 0.95}])
    pin(api, "1.0")
    add_rule(api, metric="accuracy", budget=0.01)
    post("1.1", [{"name": "accuracy", "value": 0.945}])
    first = BaselinePin.objects.get()
    later = BaselinePin.objects.filter(pk=first.pk).values()[0]
    later.pop("id")
    # 200 more pins of 1.1 after the budget was set: the anchor (1.0) is outside the window.
    run_11 = EvaluationRun.objects.get(model_version__label="1.1")
    BaselinePin.objects.bulk_create(
        [BaselinePin(**{**later, "run_id": run_11.pk, "model_version_id": run_11.model_version_id,
                        "pinned_at": first.pinned_at + timedelta(seconds=i + 1)})
         for i in range(200)]
    )  # fmt: skip

    response = post("1.2", [{"name": "accuracy", "value": 0.935}])

    budget = checks_by_rule(response)[("accuracy", "overall", "budget")]
    assert budget["status"] == "failed"
    assert "since 1.0" in budget["message"]


def test_an_intended_change_restarts_the_budget(api, post):
    post("1.0", [{"name": "accuracy", "value": 0.95}])
    pin(api, "1.0")
    add_rule(api, metric="accuracy", budget=0.01)
    post("2.0", [{"name": "accuracy", "value": 0.90}])  # the new tokenizer costs 5 points
    api.post("/api/v1/models/fraud-detector/marks/",
             {"version": "2.0", "note": "expected: new tokenizer"}, format="json")  # fmt: skip

    within = post("2.1", [{"name": "accuracy", "value": 0.895}])
    beyond = post("2.2", [{"name": "accuracy", "value": 0.885}])

    budget = checks_by_rule(within)[("accuracy", "overall", "budget")]
    assert budget["status"] == "passed"
    assert "since 2.0 (marked: expected: new tokenizer)" in budget["message"]
    assert checks_by_rule(beyond)[("accuracy", "overall", "budget")]["status"] == "failed"


def test_auc_with_positives_and_negatives_is_tested_with_hanley_mcneil(api, post):
    """An AUC is not a proportion: with its positives and negatives posted, the gate takes
    Hanley-McNeil's standard error; they are stored, answered and exported with the run."""
    post("1.0", [{"name": "auc_roc", "value": 0.900, "n": 1000, "n_pos": 100, "n_neg": 900}])
    pin(api, "1.0")
    add_rule(api, metric="auc_roc", significance=0.05)

    small = post("1.1", [{"name": "auc_roc", "value": 0.897, "n_pos": 100, "n_neg": 900}])
    large = post("1.2", [{"name": "auc_roc", "value": 0.80, "n_pos": 100, "n_neg": 900}])

    assert small.status_code == 201, small.json()
    check = checks_by_rule(small)[("auc_roc", "overall", "significance")]
    assert check["method"] == "Hanley-McNeil z-test"
    assert check["status"] == "passed" and check["p_value"] > 0.4
    check = checks_by_rule(large)[("auc_roc", "overall", "significance")]
    assert check["status"] == "failed" and check["p_value"] < 0.05
    assert small.json()["metrics"][0] | {"n_pos": 100, "n_neg": 900} == small.json()["metrics"][0]
    read = api.get(f"/api/v1/runs/{small.json()['id']}/").json()
    assert (read["metrics"][0]["n_pos"], read["metrics"][0]["n_neg"]) == (100, 900)
    exported = api.get(
        "/api/v1/models/fraud-detector/baseline/", {"dataset": "holdout", "format": "file"}
    ).json()
    assert (exported["results"][0]["n_pos"], exported["results"][0]["n_neg"]) == (100, 900)


def test_auc_without_class_counts_or_intervals_is_insufficient_not_a_proportion(api, post):
    post("1.0", [{"name": "auc_roc", "value": 0.900, "n": 1000}])
    pin(api, "1.0")
    add_rule(api, metric="auc_roc", significance=0.05)

    response = post("1.1", [{"name": "auc_roc", "value": 0.903, "n": 1000}])

    check = checks_by_rule(response)[("auc_roc", "overall", "significance")]
    assert check["status"] == "insufficient"
    assert "positives and negatives" in check["message"]


@pytest.mark.parametrize(
    ("metric", "field"),
    [
        ({"n_pos": 100}, "n_neg"),
        ({"n_neg": 900}, "n_pos"),
        ({"n_pos": 0, "n_neg": 900}, "n_pos"),
        ({"n_pos": 100, "n_neg": 900, "n": 999}, "n"),
        ({"n_pos": 2**63, "n_neg": 900}, "n_pos"),
        ({"n_pos": "100", "n_neg": 900}, "n_pos"),
    ],
)
def test_bad_class_counts_are_refused_by_field(post, metric, field):
    response = post("1.0", [{"name": "auc_roc", "value": 0.9, **metric}])

    assert response.status_code == 400
    assert field in response.json()["metrics"]["0"], response.json()
    assert not EvaluationRun.objects.exists()
