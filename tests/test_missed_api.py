"""Missed regressions through the API: marked, listed and withdrawn on a series by admin
tokens, refused with the field named, and counted in the alerts' recall."""

import pytest

from evaluations.models import Finding, MissedRegression, ModelVersion, Series
from evaluations.services import findings, projects
from tests.conftest import client_for

MISSED = "/api/v1/models/fraud-detector/missed/"
VERSIONS = [f"1.{i}.0" for i in range(10)]
BODY = '{"metric": "accuracy", "version": "1.4.0", "note": "n"}'
HUGE = 2**63


def run(version, accuracy, f1=0.88):
    return {
        "model": "fraud-detector", "version": version, "dataset": {"name": "holdout",
        "version": "2024-06", "size": 10000}, "metrics": [
            {"name": "accuracy", "value": accuracy, "n": 10000},
            {"name": "f1", "value": f1, "slice": "country=DE"},
        ],
    }  # fmt: skip


@pytest.fixture
def history(api):
    for i, version in enumerate(VERSIONS):
        response = api.post("/api/v1/runs/", run(version, 0.93 - 0.001 * i), format="json")
        assert response.status_code == 201, response.json()


def mark(api, version="1.4.0", **fields):
    body = {"metric": "accuracy", "version": version, "note": "recall fell with the new data"}
    return api.post(MISSED, {**body, **fields}, format="json")


def confirmed_finding(start, end, metric="accuracy", status="acknowledged"):
    series = Series.objects.get(metric__name=metric)
    version = {v.label: v.pk for v in ModelVersion.objects.all()}
    finding = Finding.objects.create(
        series=series, kind="step", status=status, start_version_id=version[start],
        end_version_id=version[end], magnitude=0.01, message="accuracy stepped down",
        triaged_by="ana", triaged_at="2026-12-01T00:00:00Z",
    )  # fmt: skip
    return finding


def test_mark_list_and_withdraw_a_missed_regression(api, history):
    created = mark(api, note="should have been found: the new tokenizer")

    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["metric"], body["dataset"], body["dataset_version"], body["slice"]) == (
        "accuracy", "holdout", "2024-06", "overall",
    )  # fmt: skip
    assert (body["branch"], body["environment"], body["version"]) == ("main", "offline", "1.4.0")
    assert body["note"] == "should have been found: the new tokenizer"
    assert body["created_by"].startswith("token ")
    assert (body["withdrawn_at"], body["covered_by"]) == (None, None)
    listed = api.get(MISSED).json()
    assert [item["id"] for item in listed["results"]] == [body["id"]]
    assert api.get(f"{MISSED}{body['id']}/").json()["version"] == "1.4.0"

    assert body["status"] == "standing"

    withdrawn = api.delete(f"{MISSED}{body['id']}/")

    assert withdrawn.status_code == 204
    assert api.get(MISSED).json()["count"] == 0
    read = api.get(f"{MISSED}{body['id']}/").json()
    assert (read["status"], read["withdrawn_by"][:6]) == ("withdrawn", "token ")
    assert api.delete(f"{MISSED}{body['id']}/").status_code == 404
    kept = MissedRegression.objects.get()
    assert kept.withdrawn_at is not None and kept.withdrawn_by.startswith("token ")
    # Withdrawn, the same version may be marked again.
    assert mark(api).status_code == 201


def test_the_list_filters_by_series(api, history):
    mark(api)
    mark(api, metric="f1", slice="country=DE", version="1.2.0")

    f1 = api.get(f"{MISSED}?metric=f1").json()["results"]
    de = api.get(f"{MISSED}?slice=country%3DDE").json()["results"]

    assert [item["version"] for item in f1] == [item["version"] for item in de] == ["1.2.0"]
    assert api.get(f"{MISSED}?environment=production").json()["count"] == 0


def test_withdrawn_marks_are_listed_by_status_with_who_withdrew_them_and_when(api, history):
    withdrawn = mark(api, version="1.2.0").json()
    api.delete(f"{MISSED}{withdrawn['id']}/")
    remarked = mark(api, version="1.2.0").json()  # marked again once withdrawn
    standing = mark(api, version="1.5.0").json()

    def listed(query=""):
        response = api.get(f"{MISSED}{query}")
        assert response.status_code == 200, response.content
        return [(item["id"], item["status"]) for item in response.json()["results"]]

    assert listed() == listed("?status=standing") == [
        (standing["id"], "standing"), (remarked["id"], "standing"),
    ]  # fmt: skip
    assert listed("?status=withdrawn") == [(withdrawn["id"], "withdrawn")]
    assert [item_id for item_id, _ in listed("?status=*")] == [
        standing["id"], remarked["id"], withdrawn["id"],
    ]  # fmt: skip
    assert listed("?status=withdrawn&metric=f1") == []
    item = api.get(f"{MISSED}?status=withdrawn").json()["results"][0]
    assert item["version"] == "1.2.0" and item["withdrawn_by"].startswith("token ")
    assert item["withdrawn_at"] >= item["created_at"]


# As a query string carries them: NUL, and a lone surrogate's UTF-8 bytes.
@pytest.mark.parametrize("value", ["gone", "Withdrawn", "a%00b", "%ED%A0%80"])
def test_an_unknown_status_filter_is_refused_by_name(api, history, value):
    mark(api)

    response = api.get(f"{MISSED}?status={value}")

    assert response.status_code == 400, response.content
    assert list(response.json()) == ["status"]


def test_an_ingest_token_reads_but_cannot_mark_or_withdraw(api, project, history):
    ingest = client_for(projects.create_token(project=project, name="ci", scope="ingest")[1])
    created = mark(api).json()

    refused = mark(ingest, version="1.5.0")
    refused_withdrawal = ingest.delete(f"{MISSED}{created['id']}/")

    assert refused.status_code == refused_withdrawal.status_code == 403
    assert "needs admin" in refused.json()["detail"]
    assert ingest.get(MISSED).json()["count"] == 1
    assert MissedRegression.objects.filter(withdrawn_at__isnull=True).count() == 1


def test_another_project_sees_nothing(api, other_api, history):
    created = mark(api).json()

    assert other_api.get(MISSED).status_code == 404
    assert (
        other_api.delete(f"/api/v1/models/fraud-detector/missed/{created['id']}/").status_code
        == 404
    )
    assert mark(other_api).status_code == 404


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"metric": ""}, "metric"),
        ({"metric": None}, "metric"),
        ({"version": ""}, "version"),
        ({"version": "x" * 201}, "version"),
        ({"version": "1.4\x00"}, "version"),
        ({"note": ""}, "note"),
        ({"note": "n" * 501}, "note"),
        ({"environment": "lab"}, "environment"),
        ({"slice": ["overall"]}, "slice"),
    ],
)
def test_bad_input_answers_400_naming_the_field(api, history, fields, field):
    response = mark(api, **fields)

    assert response.status_code == 400, response.content
    assert field in response.json()
    assert MissedRegression.objects.count() == 0


# Lone surrogates arrive only as JSON escapes, and numbers beyond 64 bits or the float range only
# as JSON literals: these bodies are written by hand.
@pytest.mark.parametrize(
    ("find", "replace", "field"),
    [
        ('"1.4.0"', '"1.4\\ud800"', "version"),
        ('"1.4.0"', '"\\udfff"', "version"),
        ('"1.4.0"', '"1.4.0\\u0000"', "version"),
        ('"1.4.0"', '"1.4\\n.0"', "version"),  # trailing white space alone is trimmed
        ('"1.4.0"', '"\\u200b\\u0007"', "version"),
        ('"1.4.0"', str(10**400), "version"),
        ('"1.4.0"', "1e400", "version"),
        ('"1.4.0"', "NaN", "version"),
        ('"1.4.0"', "-Infinity", "version"),
        ('"1.4.0"', "true", "version"),
        ('"1.4.0"', '{"label": "1.4.0"}', "version"),
        ('"n"', '"n\\ud800"', "note"),
        ('"n"', '"n\\u0000"', "note"),
        ('"accuracy"', '"acc\\ud800"', "metric"),
        ('"accuracy"', '"accuracy", "dataset": "hold\\u0000out"', "dataset"),
        ('"accuracy"', '"accuracy", "dataset_version": "\\ud800"', "dataset_version"),
        ('"accuracy"', '"accuracy", "slice": "over\\tall"', "slice"),
        ('"accuracy"', '"accuracy", "branch": "main\\udc00"', "branch"),
        ('"accuracy"', '"accuracy", "environment": "lab\\ud800"', "environment"),
    ],
)
def test_hostile_text_and_numbers_answer_400_naming_the_field(api, history, find, replace, field):
    text = BODY.replace(find, replace, 1)

    response = api.generic("POST", MISSED, text, content_type="application/json")

    assert response.status_code == 400, response.content
    assert list(response.json()) == [field]
    assert MissedRegression.objects.count() == 0


@pytest.mark.parametrize("body", ["[]", '"accuracy"', "null", "{", '{"metric": "accuracy"'])
def test_a_body_that_is_not_an_object_answers_400(api, history, body):
    response = api.generic("POST", MISSED, body, content_type="application/json")

    assert response.status_code == 400, response.content
    assert MissedRegression.objects.count() == 0


@pytest.mark.parametrize("mark_id", [HUGE, HUGE - 1, 10**400, 0])
def test_a_mark_id_beyond_bigint_or_unknown_is_not_found(api, history, mark_id):
    created = mark(api).json()

    read, withdrawn = api.get(f"{MISSED}{mark_id}/"), api.delete(f"{MISSED}{mark_id}/")

    assert read.status_code == withdrawn.status_code == 404
    assert api.get(f"{MISSED}{created['id']}/").json()["status"] == "standing"


def test_a_missing_field_is_named(api, history):
    response = api.post(MISSED, {"metric": "accuracy"}, format="json")

    assert response.status_code == 400
    assert set(response.json()) == {"version", "note"}


def test_a_version_marked_twice_is_refused_naming_the_version(api, history):
    mark(api)

    again = mark(api)

    assert again.status_code == 400
    assert "already marked" in again.json()["version"][0]


@pytest.mark.parametrize(
    "fields",
    [
        {"metric": "recall"},
        {"slice": "country=FR"},
        {"dataset": "other"},
        {"branch": "feature/x"},
        {"dataset_version": "2099-01"},
        {"version": "9.9.9"},
        {"version": HUGE},
        {"version": "v" * 200},
        {"version": "../1.4.0"},
    ],
)
def test_an_unknown_series_or_version_answers_404(api, history, fields):
    response = mark(api, **fields)

    assert response.status_code == 404, response.content
    # The answer says what was not found.
    assert str(next(iter(fields.values()))) in response.json()["detail"]
    assert MissedRegression.objects.count() == 0


def test_an_unknown_model_answers_404(api, history):
    response = api.post("/api/v1/models/nope/missed/", {"metric": "accuracy", "version": "1.0.0",
                        "note": "x"}, format="json")  # fmt: skip

    assert response.status_code == 404


def test_a_version_the_series_never_evaluated_answers_404(api, history):
    other = run("2.0.0", 0.9)
    other["metrics"] = [{"name": "precision", "value": 0.8}]
    api.post("/api/v1/runs/", other, format="json")

    response = mark(api, version="2.0.0")

    assert response.status_code == 404
    assert "has no result of version '2.0.0'" in response.json()["detail"]


def precision(api, query=""):
    response = api.get(f"/api/v1/findings/precision/{query}")
    assert response.status_code == 200
    return response.json()


def test_recall_counts_confirmed_findings_against_uncovered_marks(api, history):
    confirmed_finding("1.2.0", "1.3.0")  # real: confirmed by a person
    confirmed_finding("1.6.0", "1.6.0", metric="f1", status="false_alarm")
    mark(api, version="1.8.0")  # nothing near it: missed
    mark(api, metric="f1", slice="country=DE", version="1.6.0")  # a false alarm covers nothing

    body = precision(api)

    assert (body["real"], body["false_alarms"], body["precision"]) == (1, 1, 0.5)
    assert (body["missed"], body["missed_covered"]) == (2, 0)
    assert body["recall"] == pytest.approx(1 / 3)


def test_a_mark_a_confirmed_finding_covers_stops_counting_as_missed(api, history):
    near = mark(api, version="1.5.0").json()  # three versions past the span's end: missed
    within = mark(api, version="1.1.0").json()  # one version before the start: covered
    assert precision(api)["recall"] == 0.0

    finding = confirmed_finding("1.2.0", "1.2.0")
    finding.end_version = ModelVersion.objects.get(label="1.2.0")
    finding.save()

    body = precision(api)
    assert (body["real"], body["missed"], body["missed_covered"]) == (1, 1, 1)
    assert body["recall"] == 0.5
    listed = {item["id"]: item["covered_by"] for item in api.get(MISSED).json()["results"]}
    assert listed == {near["id"]: None, within["id"]: finding.pk}


def test_a_finding_spanning_the_marked_version_covers_it(api, history):
    mark(api, version="1.7.0")  # five versions after the start, within the span
    confirmed_finding("1.2.0", "1.8.0")

    body = precision(api)

    assert (body["missed"], body["missed_covered"], body["recall"]) == (0, 1, 1.0)


def test_an_open_finding_covers_nothing_until_a_person_confirms_it(api, history):
    mark(api, version="1.4.0")
    series = Series.objects.get(metric__name="accuracy")
    version = ModelVersion.objects.get(label="1.4.0")
    finding = Finding.objects.create(
        series=series, kind="step", start_version=version, end_version=version, magnitude=0.01,
        message="accuracy stepped down",
    )  # fmt: skip
    assert (precision(api)["missed"], precision(api)["recall"]) == (1, 0.0)

    findings.triage(finding=finding, action="acknowledge", by="ana")

    assert (precision(api)["missed"], precision(api)["recall"]) == (0, 1.0)


def test_a_withdrawn_mark_no_longer_counts(api, history):
    confirmed_finding("1.2.0", "1.3.0")
    created = mark(api, version="1.8.0").json()
    assert precision(api)["recall"] == 0.5

    api.delete(f"{MISSED}{created['id']}/")

    body = precision(api)
    assert (body["missed"], body["recall"]) == (0, 1.0)


def test_recall_is_none_with_nothing_found_or_missed(api, history):
    body = precision(api)

    assert (body["missed"], body["missed_covered"], body["recall"]) == (0, 0, None)


def test_recall_narrowed_to_a_model(api, history):
    mark(api, version="1.8.0")
    other = run("0.1", 0.5)
    other["model"] = "other-model"
    api.post("/api/v1/runs/", other, format="json")

    assert precision(api, "?model=fraud-detector")["missed"] == 1
    assert precision(api, "?model=other-model")["missed"] == 0


SERIES = "/api/v1/models/fraud-detector/series/"


def series_quality(api, metric="accuracy", **query):
    response = api.get(SERIES, {"metric": metric, **query})
    assert response.status_code == 200, response.content
    return response.json()["alert_precision"]


def test_a_series_answers_its_recall_beside_its_precision(api, history):
    confirmed_finding("1.2.0", "1.3.0")  # found
    mark(api, version="1.8.0")  # nothing near it: missed

    body = series_quality(api)

    assert (body["total"], body["real"], body["precision"]) == (1, 1, 1.0)
    assert (body["missed"], body["missed_covered"], body["recall"]) == (1, 0, 0.5)


def test_a_series_counts_only_its_own_marks(api, history):
    confirmed_finding("1.2.0", "1.3.0")
    mark(api, version="1.1.0")  # one version before the finding's start: covered
    mark(api, metric="f1", slice="country=DE", version="1.6.0")

    accuracy = series_quality(api)
    f1 = series_quality(api, metric="f1", slice="country=DE")

    assert (accuracy["missed"], accuracy["missed_covered"], accuracy["recall"]) == (0, 1, 1.0)
    assert (f1["real"], f1["missed"], f1["recall"]) == (0, 1, 0.0)
    # The model's figures add its series' up.
    model = precision(api, "?model=fraud-detector")
    assert (model["real"], model["missed"], model["missed_covered"]) == (1, 1, 1)
    assert model["recall"] == 0.5


def test_a_withdrawn_mark_no_longer_counts_on_its_series(api, history):
    created = mark(api, version="1.8.0").json()
    assert series_quality(api)["recall"] == 0.0

    api.delete(f"{MISSED}{created['id']}/")

    assert (series_quality(api)["missed"], series_quality(api)["recall"]) == (0, None)


def test_a_series_with_neither_findings_nor_marks_has_no_recall(api, history):
    assert series_quality(api) == {
        "total": 0, "judged": 0, "real": 0, "false_alarms": 0, "precision": None,
        "missed": 0, "missed_covered": 0, "recall": None,
    }  # fmt: skip


def test_a_series_read_with_findings_and_marks_costs_a_fixed_number_of_queries(
    api, history, django_assert_max_num_queries
):
    confirmed_finding("1.2.0", "1.3.0")
    for version in ("1.1.0", "1.5.0", "1.8.0"):
        mark(api, version=version)
    series_quality(api)  # the points cached
    # Token, model, series, the points' freshness, the findings' counts, the marks, the
    # confirmed findings, the series' version order, the findings listed, intended changes.
    with django_assert_max_num_queries(10):
        body = series_quality(api)

    assert (body["missed"], body["missed_covered"]) == (2, 1)
