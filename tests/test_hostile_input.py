"""Input that used to answer 500 (found against gunicorn and PostgreSQL): each answers 400
naming the field, writes nothing, and what is accepted can be read back."""

import json

import pytest

from evaluations.models import ChangeMark, Channel, Finding, Series, ThresholdRule
from evaluations.services import findings
from tests.test_findings_api import detected
from tests.test_ingest_validation import body_with, nothing_written, raw_post

pytestmark = pytest.mark.postgres

DEEP = "[" * 10_000 + "]" * 10_000


def nested(levels):
    """A JSON value nested ``levels`` deep: [[...[1]...]]."""
    value = 1
    for _ in range(levels):
        value = [value]
    return value


def error_at(response, path):
    errors = response.json()
    for key in path.split("."):
        assert key in errors, f"{key} missing from {errors}"
        errors = errors[key]
    return " ".join(errors) if isinstance(errors, list) else errors


def assert_readable(api, response):
    """A stored run reads back: its page of the list, itself, and a replay."""
    run_id = response.json()["id"]
    assert api.get("/api/v1/runs/").status_code == 200
    assert api.get(f"/api/v1/runs/{run_id}/").status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/runs/",
        "/api/v1/runs/batch/",
        "/api/v1/models/fraud-detector/thresholds/",
        "/api/v1/models/fraud-detector/marks/",
        "/api/v1/subscriptions/",
        "/api/v1/channels/",
    ],
)
def test_json_nested_10000_deep_answers_400_at_every_endpoint(api, path):
    response = api.generic("POST", path, DEEP, content_type="application/json")

    assert response.status_code == 400
    assert "nested deeper than 512 levels" in response.json()["detail"]
    assert nothing_written()
    assert not ThresholdRule.objects.exists() and not ChangeMark.objects.exists()
    assert not Channel.objects.exists()


@pytest.mark.parametrize("levels", [33, 260, 500])
def test_metadata_nested_beyond_32_levels_is_refused(api, run_body, levels):
    run_body["metadata"] = {"deep": nested(levels - 1)}

    response = raw_post(api, json.dumps(run_body))

    assert response.status_code == 400
    assert "32 levels" in error_at(response, "metadata")
    assert nothing_written()


def test_metadata_32_levels_deep_is_stored_and_read_back(api, run_body):
    run_body["metadata"] = {"deep": nested(31)}

    response = raw_post(api, json.dumps(run_body))

    assert response.status_code == 201
    assert_readable(api, response)
    assert raw_post(api, json.dumps(run_body)).status_code == 200  # the replay
    assert api.get(f"/api/v1/runs/{response.json()['id']}/").json()["metadata"] == {
        "deep": nested(31)
    }


def test_metadata_over_64_kb_is_refused(api, run_body):
    run_body["metadata"] = {"log": "x" * 65_536}

    response = raw_post(api, json.dumps(run_body))

    assert response.status_code == 400
    assert "65536 bytes" in error_at(response, "metadata")
    assert nothing_written()


def test_metadata_numbers_up_to_64_bits_are_stored_and_read_back(api, run_body):
    metadata = {"float": 9.2e18, "small": 1e-300, "int": 2**63 - 1, "neg": -(2**63)}
    response = raw_post(api, json.dumps({**run_body, "metadata": metadata}))
    assert response.status_code == 201, response.content
    listed = api.get("/api/v1/runs/")
    assert listed.status_code == 200
    assert listed.json()["results"][0]["metadata"] == metadata
    detail = api.get(f"/api/v1/runs/{response.json()['id']}/")
    assert detail.status_code == 200 and detail.json()["metadata"] == metadata


@pytest.mark.parametrize(
    "metadata",
    [
        {"ci\u0000url": "x"},
        {"ci_url": "https://ci\u0000.example.com"},
        {"list": ["a", {"b": "c\u0000"}]},
        {"big": 2**64},
        {"huge": 10**400},
        {"negative": -(2**63) - 1},
        # PostgreSQL keeps these as the integers they are (1e20 reads back as
        # 100000000000000000000), which the answer cannot write.
        {"whole float": 1e20},
        {"nested": [{"x": -9.3e18}]},
        {"largest": 1.7976931348623157e308},
    ],
)
def test_metadata_postgresql_or_the_answer_cannot_hold_is_refused(api, run_body, metadata):
    response = raw_post(api, json.dumps({**run_body, "metadata": metadata}))

    assert response.status_code == 400
    assert error_at(response, "metadata")
    assert nothing_written()


def test_metadata_integers_within_64_bits_are_stored(api, run_body):
    run_body["metadata"] = {"low": -(2**63), "high": 2**63 - 1}

    response = raw_post(api, json.dumps(run_body))

    assert response.status_code == 201
    assert api.get(f"/api/v1/runs/{response.json()['id']}/").json()["metadata"] == {
        "low": -(2**63),
        "high": 2**63 - 1,
    }


STRING_FIELDS = [
    "model",
    "version",
    "commit",
    "branch",
    "dataset.name",
    "dataset.version",
    "external_id",
    "ci_url",
    "metrics.0.name",
    "metrics.0.slice",
    "metrics.2.unit",
]


@pytest.mark.parametrize("path", STRING_FIELDS)
def test_nul_in_any_string_field_is_refused_by_name(api, run_body, path):
    response = raw_post(api, json.dumps(body_with(run_body, path, "a\u0000b")))

    assert response.status_code == 400
    assert error_at(response, path)
    assert nothing_written()


def test_nul_in_a_dataset_given_by_name_is_refused(post_run, run_body):
    response = post_run({**run_body, "dataset": "hold\u0000out"})

    assert response.status_code == 400
    assert error_at(response, "dataset.name")
    assert nothing_written()


# Lone surrogates can only arrive as JSON escapes: the text is written here by hand.
SURROGATES = [
    ('"metadata": {"ci_url": "x"}', '"metadata": {"note": "\\ud800"}', "metadata"),
    ('"metadata": {"ci_url": "x"}', '"metadata": {"\\udfff": 1}', "metadata"),
    ('"model": "fraud-detector"', '"model": "fraud\\ud800"', "model"),
    ('"name": "accuracy"', '"name": "acc\\ud800"', "metrics.0.name"),
]


@pytest.mark.parametrize(("find", "replace", "field"), SURROGATES)
def test_a_lone_surrogate_is_refused_by_name(api, run_body, find, replace, field):
    run_body["metadata"] = {"ci_url": "x"}
    text = json.dumps(run_body)
    assert find in text

    response = raw_post(api, text.replace(find, replace))

    assert response.status_code == 400
    assert error_at(response, field)
    assert nothing_written()


def test_a_lone_surrogate_in_a_shorthand_metric_name_is_named_escaped(api):
    text = '{"model": "m", "version": "1", "dataset": "d", "metrics": {"acc\\ud800": 0.9}}'

    response = raw_post(api, text)

    assert response.status_code == 400
    assert list(response.json()["metrics"]) == ["acc\\ud800"]
    assert nothing_written()


@pytest.mark.parametrize("path", ["metrics.0.n", "dataset.size"])
@pytest.mark.parametrize("count", [2**63, 2**63 - 1, 10**12 + 1, 0, -1, -(2**63)])
def test_a_count_beyond_the_ceiling_or_below_one_is_refused(post_run, run_body, path, count):
    response = post_run(body_with(run_body, path, count))

    assert response.status_code == 400
    assert error_at(response, path)
    assert nothing_written()


def test_a_count_at_the_ceiling_is_stored(post_run, run_body, api):
    run_body["dataset"]["size"] = run_body["metrics"][0]["n"] = 10**12

    response = post_run(run_body)

    assert response.status_code == 201
    assert response.json()["dataset"]["size"] == 10**12
    assert_readable(api, response)


@pytest.mark.parametrize("literal", [str(10**400), str(-(10**400)), "1e400", "-1e400", "NaN"])
@pytest.mark.parametrize("field", ["value", "ci_low"])
def test_a_number_beyond_the_float_range_is_refused_by_name(api, run_body, literal, field):
    run_body["metrics"][0].update(value=0.5, ci_low=0.25, ci_high=0.75)
    text = json.dumps(run_body).replace(
        f'"{field}": {run_body["metrics"][0][field]}', f'"{field}": {literal}'
    )
    assert literal in text

    response = raw_post(api, text)

    assert response.status_code == 400
    assert "finite" in error_at(response, f"metrics.0.{field}")
    assert nothing_written()


@pytest.mark.parametrize("literal", ["NaN", "-Infinity", "1e400"])
@pytest.mark.parametrize("field", ["model", "version"])
def test_a_name_given_as_a_non_finite_number_is_refused_by_name(api, run_body, field, literal):
    text = json.dumps(body_with(run_body, field, "X-name")).replace('"X-name"', literal)

    response = raw_post(api, text)

    assert response.status_code == 400
    assert f"not {literal}" in error_at(response, field)
    assert nothing_written()


@pytest.mark.parametrize("literal", [str(10**400), "1e400", "Infinity"])
def test_a_shorthand_value_beyond_the_float_range_is_refused_by_name(api, literal):
    text = f'{{"model": "m", "version": "1", "dataset": "d", "metrics": {{"f1": {literal}}}}}'

    response = raw_post(api, text)

    assert response.status_code == 400
    assert "finite" in error_at(response, "metrics.f1.value")
    assert nothing_written()


HUGE = str(2**63)


@pytest.fixture
def stored(post_run, run_body):
    assert post_run(run_body).status_code == 201


@pytest.mark.parametrize("limit", [HUGE, str(10**6 + 1), "0", "-1", "abc", "1e3"])
def test_a_series_limit_out_of_range_is_refused_by_name(api, stored, limit):
    response = api.get(
        "/api/v1/models/fraud-detector/series/", {"metric": "accuracy", "limit": limit}
    )

    assert response.status_code == 400
    assert error_at(response, "limit")


def test_a_series_limit_at_the_ceiling_reads_the_history(api, stored):
    response = api.get(
        "/api/v1/models/fraud-detector/series/", {"metric": "accuracy", "limit": 10**6}
    )

    assert response.status_code == 200
    assert len(response.json()["points"]) == 1


LISTS = [
    "/api/v1/runs/",
    "/api/v1/models/",
    "/api/v1/models/fraud-detector/versions/",
    "/api/v1/models/fraud-detector/thresholds/",
    "/api/v1/models/fraud-detector/marks/",
    "/api/v1/models/fraud-detector/missed/",
    "/api/v1/findings/",
    "/api/v1/subscriptions/",
    "/api/v1/channels/",
    "/api/v1/notifications/",
]


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("param", ["page", "page_size"])
@pytest.mark.parametrize("value", [HUGE, str(10**400), "-1", "0", "abc", "1.5", "\u0000"])
def test_paging_parameters_never_answer_500(api, stored, path, param, value):
    response = api.get(path, {param: value})

    # A page that does not exist is a 404; a page size out of range falls back to the default.
    assert response.status_code in (200, 404), response.content
    assert response.json()


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/runs/{HUGE}/",
        f"/api/v1/findings/{HUGE}/",
        f"/api/v1/findings/{HUGE}/acknowledge/",
        f"/api/v1/subscriptions/{HUGE}/",
        f"/api/v1/channels/{HUGE}/",
        f"/api/v1/channels/{HUGE}/test/",
        f"/api/v1/models/fraud-detector/thresholds/{HUGE}/",
        f"/api/v1/models/fraud-detector/missed/{HUGE}/",
        f"/api/v1/runs/{10**400}/",
    ],
)
def test_an_id_beyond_bigint_is_not_found(api, stored, path):
    method = api.post if path.endswith(("acknowledge/", "test/")) else api.get

    assert method(path).status_code == 404


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/v1/notifications/", {"finding": "abc"}, "finding"),
        ("/api/v1/runs/", {"model": "a\u0000b"}, "model"),
        ("/api/v1/findings/", {"metric": "a\u0000b"}, "metric"),
        ("/api/v1/models/fraud-detector/missed/", {"slice": "a\u0000b"}, "slice"),
        ("/api/v1/findings/precision/", {"model": "a\u0000b"}, "model"),
        ("/api/v1/models/fraud-detector/series/", {"metric": "a\u0000b"}, "metric"),
        ("/api/v1/models/fraud-detector/compare/", {"a": "1", "b": "\u0000", "dataset": "d"}, "b"),
        ("/api/v1/models/fraud-detector/baseline/", {"dataset": "\u0000"}, "dataset"),
    ],
)
def test_filters_out_of_range_or_with_nul_are_refused_by_name(api, stored, path, params, field):
    response = api.get(path, params)

    assert response.status_code == 400
    assert error_at(response, field)


def test_a_filter_on_an_id_beyond_bigint_finds_nothing(api, stored):
    response = api.get("/api/v1/notifications/", {"finding": HUGE})

    assert response.status_code == 200
    assert response.json()["count"] == 0


@pytest.mark.parametrize("path", ["versions/", "series/?metric=accuracy", "baseline/?dataset=d"])
def test_a_model_name_with_nul_in_the_path_is_not_found(api, stored, path):
    assert api.get(f"/api/v1/models/fraud%00detector/{path}").status_code == 404


@pytest.mark.parametrize("delete", ["abc", "", "-1", HUGE, "1\u0000"])
def test_deleting_a_subscription_by_a_malformed_id_answers_400(member, project, delete):
    kept = Channel.objects.create(project=project, name="kept", emails=["a@b.c"])

    response = member.post(f"/projects/{project.name}/settings/", {"delete": delete})

    assert response.status_code == 400
    assert Channel.objects.filter(pk=kept.pk).exists()


def test_a_subscription_named_with_nul_is_a_form_error(member, project):
    response = member.post(
        f"/projects/{project.name}/settings/", {"name": "a\u0000b", "emails": "a@b.c"}
    )

    assert response.status_code == 200
    assert "Null characters are not allowed" in response.content.decode()
    assert not Channel.objects.exists()


@pytest.mark.parametrize(
    ("path", "field"),
    [("environment", "environment"), ("metrics.2.direction", "metrics.2.direction"),
     ("metrics.0.kind", "metrics.0.kind")],
)  # fmt: skip
def test_a_lone_surrogate_in_a_choice_is_quoted_escaped(api, run_body, path, field):
    text = json.dumps(body_with(run_body, path, "X-choice")).replace("X-choice", "bad\\ud800")

    response = raw_post(api, text)

    assert response.status_code == 400
    assert '"bad\\ud800" is not a valid choice.' in error_at(response, field)
    assert nothing_written()


def test_a_lone_surrogate_in_a_subscription_kind_is_quoted_escaped(api):
    text = '{"name": "s", "emails": ["ana@example.com"], "kinds": ["drift\\udfff"]}'

    response = api.generic("POST", "/api/v1/subscriptions/", text, content_type="application/json")

    assert response.status_code == 400
    assert "drift\\udfff" in error_at(response, "kinds.0")
    assert not Channel.objects.exists()


def test_a_triage_note_with_nul_on_the_finding_page_answers_400(member, post_run, run_body):
    post_run(run_body)
    series = Series.objects.get(metric__name="accuracy")
    (finding,) = findings.record_findings(series=series, detected=[detected()]).opened

    response = member.post(
        f"/findings/{finding.pk}/", {"action": "acknowledge", "note": "seen\u0000"}
    )

    assert response.status_code == 400
    assert Finding.objects.get().status == "open"
