"""Bad input: a 4xx JSON answer that names the field, and nothing written."""

import base64
import json

import pytest

from evaluations.models import (
    EvaluationDataset,
    EvaluationRun,
    MetricDefinition,
    MetricResult,
    ModelVersion,
    RegisteredModel,
    Series,
)

TABLES = (
    RegisteredModel,
    ModelVersion,
    EvaluationDataset,
    MetricDefinition,
    EvaluationRun,
    Series,
    MetricResult,
)


def nothing_written():
    return all(not table.objects.exists() for table in TABLES)


def body_with(run_body, path, value):
    """run_body with the value at a dotted path ("metrics.0.value") replaced."""
    target = run_body
    *parents, last = path.split(".")
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    if isinstance(target, list):
        target[int(last)] = value
    elif value is ...:
        del target[last]
    else:
        target[last] = value
    return run_body


def raw_post(api, text):
    return api.generic("POST", "/api/v1/runs/", text, content_type="application/json")


@pytest.mark.parametrize(
    ("path", "value", "expected_error_path"),
    [
        ("model", ..., "model"),
        ("version", ..., "version"),
        ("metrics", ..., "metrics"),
        ("dataset", ..., "dataset"),
        ("metrics", [], "metrics"),
        ("metrics", "accuracy=0.9", "metrics"),
        ("metrics.0.value", "0.931", "metrics.0.value"),
        ("metrics.0.value", True, "metrics.0.value"),
        ("metrics.0.value", None, "metrics.0.value"),
        ("metrics.0.n", -5, "metrics.0.n"),
        ("metrics.0.n", "100", "metrics.0.n"),
        ("metrics.0.name", "x" * 201, "metrics.0.name"),
        ("metrics.0.name", "acc\x00uracy", "metrics.0.name"),
        ("metrics.1.slice", "country=DE\nX", "metrics.1.slice"),
        ("metrics.2.direction", "sideways", "metrics.2.direction"),
        ("model", "m" * 201, "model"),
        ("model", "fraud\tdetector", "model"),
        ("model", "team/fraud", "model"),
        ("model", "", "model"),
        ("version", "1.4\x1b[0m", "version"),
        ("dataset", 7, "dataset"),
        ("dataset", {"version": "v1"}, "dataset.name"),
        ("dataset.size", -1, "dataset.size"),
        ("environment", "staging", "environment"),
        ("seed", "42", "seed"),
        ("finished_at", "yesterday", "finished_at"),
        ("started_at", "2026-11-21T10:00:00Z", "started_at"),
        ("external_id", "x" * 201, "external_id"),
        ("metadata", ["not", "an", "object"], "metadata"),
    ],
)
def test_bad_field_answers_400_naming_it_and_writes_nothing(
    post_run, run_body, path, value, expected_error_path
):
    response = post_run(body_with(run_body, path, value))

    assert response.status_code == 400, response.json()
    errors = response.json()
    for key in expected_error_path.split("."):
        assert key in errors, f"{key} missing from {errors}"
        errors = errors[key]
    assert errors
    assert nothing_written()


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_value_is_refused_by_name(api, run_body, literal):
    text = json.dumps(run_body).replace("0.931", literal)

    response = raw_post(api, text)

    assert response.status_code == 400
    assert "finite" in response.json()["metrics"]["0"]["value"][0]
    assert nothing_written()


def test_non_finite_number_in_metadata_is_refused(api, run_body):
    run_body["metadata"] = {"scores": [1, 2, "X"]}
    text = json.dumps(run_body).replace('"X"', "NaN")

    response = raw_post(api, text)

    assert response.status_code == 400
    assert "scores.2" in response.json()["metadata"][0]
    assert nothing_written()


def test_same_metric_and_slice_twice_in_one_run_is_refused(post_run, run_body):
    run_body["metrics"].append({"name": "accuracy", "value": 0.5})

    response = post_run(run_body)

    assert response.status_code == 400
    assert "posted twice" in response.json()["metrics"][0]
    assert nothing_written()


def test_same_metric_on_two_slices_is_fine(post_run, run_body):
    run_body["metrics"].append({"name": "accuracy", "value": 0.5, "slice": "country=FR"})

    assert post_run(run_body).status_code == 201


def test_confidence_interval_upside_down_is_refused(post_run, run_body):
    run_body["metrics"][0].update(ci_low=0.95, ci_high=0.91)

    response = post_run(run_body)

    assert response.status_code == 400
    assert response.json()["metrics"]["0"]["ci_low"]
    assert nothing_written()


def test_confidence_interval_needs_both_ends(post_run, run_body):
    run_body["metrics"][0].update(ci_low=0.91)

    response = post_run(run_body)

    assert response.status_code == 400
    assert response.json()["metrics"]["0"]["ci_high"]


def test_shorthand_metric_errors_are_keyed_by_metric_name(post_run):
    response = post_run({"model": "m", "version": "1", "dataset": "d",
                         "metrics": {"accuracy": 0.9, "f1": "high"}})  # fmt: skip

    assert response.status_code == 400
    assert list(response.json()["metrics"]) == ["f1"]


@pytest.mark.parametrize(
    "text", ['{"model": "m", ', "not json", "[1, 2]", '"a string"', "\xff\xfe"]
)
def test_malformed_body_answers_400_json(api, text):
    response = raw_post(api, text.encode("latin-1"))

    assert response.status_code == 400
    assert response.json()
    assert nothing_written()


def test_body_over_5_mb_answers_413(api, run_body):
    run_body["metadata"] = {"blob": "x" * (5 * 1024 * 1024)}

    response = raw_post(api, json.dumps(run_body))

    assert response.status_code == 413
    assert "limit" in response.json()["detail"]
    assert nothing_written()


def test_body_just_under_the_limit_is_accepted(api, run_body):
    # 24 million outcomes: 4 MB of base64, the largest field a body holds.
    run_body["metrics"][0].update(
        n=24_000_000, outcomes=base64.b64encode(bytes(3_000_000)).decode()
    )

    assert len(json.dumps(run_body)) > 4_000_000
    assert raw_post(api, json.dumps(run_body)).status_code == 201
