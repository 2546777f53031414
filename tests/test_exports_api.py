"""Exports from the API: a series, the runs list and a comparison as CSV (streamed) or Parquet
files, with the same values as the JSON answers, the same scopes and the same walls between
projects."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from evaluations import downloads
from evaluations.services import projects
from tests.conftest import client_for

SERIES = "/api/v1/models/fraud-detector/series/?metric=accuracy&dataset=holdout"
RUNS = "/api/v1/runs/?model=fraud-detector"
COMPARE = "/api/v1/models/fraud-detector/compare/?a=1.0.0&b=1.4.0&dataset=holdout"
EXPORTS = (SERIES, RUNS, COMPARE)
START = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
def history(api):
    """fraud-detector 1.0.0 .. 1.4.0 on holdout, a day apart (accuracy with n and on a slice
    with intervals, f1 without either), a canary run, and another model."""
    runs = [
        {"model": "fraud-detector", "version": f"1.{i}.0", "commit": f"c{i}",
         "dataset": {"name": "holdout", "version": "2024-06"}, "external_id": f"ci-{i}",
         "finished_at": (START + timedelta(days=i, microseconds=7 * i)).isoformat(),
         "metrics": [
             {"name": "accuracy", "value": 0.9 + i / 100, "n": 1000},
             {"name": "accuracy", "value": 0.8 + i / 1000, "slice": "country=DE",
              "ci_low": 0.7, "ci_high": 0.9},
             {"name": "f1", "value": 1 / 3 + i},
             {"name": "loss", "value": -0.25 * i},
         ]}
        for i in range(5)
    ]  # fmt: skip
    runs.append(
        {"model": "fraud-detector", "version": "1.4.0", "dataset": "holdout",
         "environment": "canary", "metrics": {"accuracy": 0.5}}
    )  # fmt: skip
    runs.append({"model": "churn", "version": "7", "dataset": "holdout", "metrics": {"mae": 3}})
    response = api.post("/api/v1/runs/batch/", {"runs": runs}, format="json")
    assert response.status_code == 201, response.json()


def download(client, path, file_format):
    """The answer and its body, read from the stream as a client would."""
    response = client.get(f"{path}&format={file_format}")
    assert response.status_code == 200, response.content
    assert response.streaming
    return response, b"".join(response.streaming_content)


def csv_rows(body: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8"))))


def parquet_rows(body: bytes) -> list[dict]:
    pandas = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    frame = pandas.read_parquet(io.BytesIO(body))
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def number(text):
    return None if text == "" else float(text)


def utc(moment):
    """A time as the JSON answers write it."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def test_a_series_as_csv_has_a_header_and_the_json_points(api, history):
    points = api.get(SERIES).json()["points"]

    response, body = download(api, SERIES, "csv")

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        'attachment; filename="fraud-detector-accuracy-holdout-overall.csv"'
    )
    assert response["Cache-Control"] == "private, no-store"
    header = body.decode().splitlines()[0]
    assert header == (
        "version,run_id,at,value,n,ci_low,ci_high,replicates,sd,commit,branch,environment,"
        "model,metric,dataset,dataset_version,slice"
    )
    rows = csv_rows(body)
    assert [
        {"version": r["version"], "value": float(r["value"]), "n": int(r["n"]),
         "ci_low": number(r["ci_low"]), "ci_high": number(r["ci_high"]),
         "run_id": int(r["run_id"]), "at": r["at"], "replicates": int(r["replicates"]),
         "sd": number(r["sd"])}
        for r in rows
    ] == points  # fmt: skip
    key = {(r["branch"], r["environment"], r["model"], r["dataset_version"], r["slice"])
           for r in rows}  # fmt: skip
    assert key == {("main", "offline", "fraud-detector", "2024-06", "overall")}
    assert [r["commit"] for r in rows] == [f"c{i}" for i in range(5)]


def test_a_series_slice_with_intervals_and_a_limit(api, history):
    path = f"{SERIES}&slice=country%3DDE&limit=2"
    points = api.get(path).json()["points"]

    response, body = download(api, path, "csv")

    assert response["Content-Disposition"].endswith('-country_DE.csv"')
    rows = csv_rows(body)
    assert [r["version"] for r in rows] == ["1.3.0", "1.4.0"] == [p["version"] for p in points]
    assert [(float(r["ci_low"]), float(r["ci_high"]), r["n"]) for r in rows] == [(0.7, 0.9, "")] * 2


def test_a_series_as_parquet_reads_back_to_the_json_points(api, history):
    points = api.get(SERIES).json()["points"]

    response, body = download(api, SERIES, "parquet")

    assert response["Content-Type"] == "application/vnd.apache.parquet"
    assert response["Content-Disposition"].endswith('overall.parquet"')
    rows = parquet_rows(body)
    assert list(rows[0])[:9] == ["version", "run_id", "at", "value", "n", "ci_low", "ci_high",
                                 "replicates", "sd"]  # fmt: skip
    assert [
        {"version": r["version"], "value": r["value"], "n": r["n"], "ci_low": r["ci_low"],
         "ci_high": r["ci_high"], "run_id": r["run_id"], "at": utc(r["at"].to_pydatetime()),
         "replicates": r["replicates"], "sd": r["sd"]}
        for r in rows
    ] == points  # fmt: skip


def json_results(api, path):
    """Every result of every page of the runs list, one row each, in the list's order."""
    rows, url = [], f"{path}&page_size=2"
    while url:
        page = api.get(url).json()
        rows += [
            {"run_id": run["id"], "recorded_at": run["recorded_at"], "model": run["model"],
             "version": run["version"], "commit": run["commit"], "branch": run["branch"],
             "environment": run["environment"], "dataset": run["dataset"]["name"],
             "dataset_version": run["dataset"]["version"], "external_id": run["external_id"],
             "seed": run["seed"], "metric": m["name"], **{k: m[k] for k in (
                 "slice", "value", "n", "n_pos", "n_neg", "ci_low", "ci_high", "direction",
                 "kind", "unit")}}
            for run in page["results"] for m in run["metrics"]
        ]  # fmt: skip
        url = page["next"]
    return rows


RUN_INTS = ("run_id", "seed", "n", "n_pos", "n_neg")
RUN_FLOATS = ("value", "ci_low", "ci_high")


def typed_run_row(row):
    return {
        **row,
        **{k: None if row[k] == "" else int(row[k]) for k in RUN_INTS},
        **{k: number(row[k]) for k in RUN_FLOATS},
        "dataset_version": row["dataset_version"],
        "external_id": row["external_id"] or None,
    }


def test_the_runs_list_as_csv_is_one_row_per_result_as_the_json_list(api, history):
    expected = json_results(api, RUNS)

    response, body = download(api, RUNS, "csv")

    assert response["Content-Disposition"] == 'attachment; filename="runs-fraud-detector.csv"'
    rows = [typed_run_row(row) for row in csv_rows(body)]
    assert len(rows) == 20  # 5 runs, 4 results each; not the canary's, not churn's
    assert rows == expected
    assert rows[0]["version"] == "1.4.0" and rows[0]["metric"] == "accuracy"


def test_the_runs_export_honours_the_lists_filters(api, history):
    _, canary = download(api, f"{RUNS}&environment=canary", "csv")
    _, one = download(api, f"{RUNS}&version=1.2.0", "csv")
    _, none = download(api, f"{RUNS}&branch=feature", "csv")

    assert [(r["version"], r["environment"], r["value"]) for r in csv_rows(canary)] == [
        ("1.4.0", "canary", "0.5")
    ]
    assert {r["version"] for r in csv_rows(one)} == {"1.2.0"} and len(csv_rows(one)) == 4
    assert none.decode().splitlines() == [none.decode().splitlines()[0]]  # the header alone


def test_the_runs_list_as_parquet_reads_back_to_the_json_list(api, history):
    expected = json_results(api, RUNS)

    _, body = download(api, RUNS, "parquet")

    rows = parquet_rows(body)
    for row in rows:
        row["recorded_at"] = utc(row["recorded_at"].to_pydatetime())
    assert rows == expected


def test_a_comparison_as_csv_and_parquet_has_the_json_rows(api, history):
    body = api.get(COMPARE).json()
    fields = ("metric", "slice", "direction", "a", "b", "delta", "relative_delta", "change",
              "p_value", "method", "significant", "a_replicates", "a_sd", "b_replicates",
              "b_sd")  # fmt: skip

    response, text = download(api, COMPARE, "csv")

    assert response["Content-Disposition"] == (
        'attachment; filename="fraud-detector-holdout-1.0.0-vs-1.4.0.csv"'
    )
    rows = csv_rows(text)
    assert len(rows) == len(body["metrics"]) == 4
    for row, expected in zip(rows, body["metrics"], strict=True):
        assert row["metric"] == expected["metric"] and row["slice"] == expected["slice"]
        for field in ("a", "b", "delta", "relative_delta", "p_value"):
            assert number(row[field]) == expected[field]
        assert (
            row["significant"] == {None: "", True: "true", False: "false"}[expected["significant"]]
        )
        assert (row["a_version"], row["b_version"]) == ("1.0.0", "1.4.0")
        assert (row["a_replicates"], row["a_sd"], row["b_replicates"]) == ("1", "", "1")
        assert int(row["b_run_id"]) == body["b"]["run_id"]
    assert [r["change"] for r in rows] == [m["change"] for m in body["metrics"]]

    _, parquet = download(api, COMPARE, "parquet")
    assert [{k: r[k] for k in fields} for r in parquet_rows(parquet)] == body["metrics"]


@pytest.mark.parametrize("path", EXPORTS)
def test_an_unknown_format_answers_400_naming_it(api, history, path):
    response = api.get(f"{path}&format=xlsx")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert "xlsx" in response.json()["format"][0]
    assert "csv, parquet" in response.json()["format"][0]


@pytest.mark.parametrize("path", EXPORTS)
def test_parquet_without_pyarrow_answers_406_naming_format(api, history, path, monkeypatch):
    monkeypatch.setattr(downloads, "parquet_available", lambda: False)

    response = api.get(f"{path}&format=parquet")

    assert response.status_code == 406
    assert "pyarrow" in response.json()["format"][0]
    assert api.get(f"{path}&format=csv").status_code == 200


@pytest.mark.parametrize("path", EXPORTS)
def test_exports_need_a_token_and_an_ingest_token_is_enough(client, project, history, path):
    anonymous = client.get(f"{path}&format=csv")
    bad_format = client.get(f"{path}&format=xlsx")  # the caller is checked first
    ingest = client_for(projects.create_token(project=project, name="ci", scope="ingest")[1])

    assert anonymous.status_code == bad_format.status_code == 401
    assert ingest.get(f"{path}&format=csv").status_code == 200


@pytest.mark.parametrize("path", [SERIES, COMPARE])
def test_another_projects_data_stays_invisible(other_api, history, path):
    response = other_api.get(f"{path}&format=csv")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"


def test_another_projects_runs_export_is_its_header_alone(other_api, history):
    _, body = download(other_api, RUNS.replace("?", "?environment=*&"), "csv")

    assert len(body.decode().splitlines()) == 1


def test_bad_filters_answer_400_in_json_whatever_the_format(api, history):
    series = api.get("/api/v1/models/fraud-detector/series/?metric=accuracy&format=csv&limit=0")
    runs = api.get("/api/v1/runs/?environment=staging&format=csv")

    assert series.status_code == runs.status_code == 400
    assert "limit" in series.json() and "environment" in runs.json()


def test_an_accept_header_asks_for_csv_too(api, history):
    response = api.get(SERIES, HTTP_ACCEPT="text/csv")

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert len(csv_rows(b"".join(response.streaming_content))) == 5


def test_text_that_a_spreadsheet_would_run_is_escaped_and_numbers_stay_numbers(api, post_run):
    body = {
        "model": "=HYPERLINK(1)", "version": "+1.0", "commit": "@SUM(A1)", "branch": "-rc",
        "dataset": {"name": "holdout", "version": "2024-06"}, "external_id": "=cmd|' /C calc'!A0",
        "metrics": [{"name": "loss", "value": -0.5, "slice": "-2+3", "ci_low": -1, "ci_high": 0}],
    }  # fmt: skip
    assert post_run(body).status_code == 201

    _, text = download(api, "/api/v1/runs/?branch=-rc", "csv")

    row = csv_rows(text)[0]
    assert (row["model"], row["version"], row["commit"], row["branch"], row["slice"]) == (
        "'=HYPERLINK(1)",
        "'+1.0",
        "'@SUM(A1)",
        "'-rc",
        "'-2+3",
    )
    assert row["external_id"] == "'=cmd|' /C calc'!A0"
    assert (row["value"], row["ci_low"], row["ci_high"]) == ("-0.5", "-1.0", "0.0")


def test_the_runs_export_over_the_ceiling_is_refused_by_name(api, history, settings):
    settings.EXPORT_MAX_ROWS = 19

    response = api.get(f"{RUNS}&format=csv")

    assert response.status_code == 400
    assert "20 results, over the limit of 19" in response.json()["detail"]
    assert api.get(f"{RUNS}&version=1.0.0&format=csv").status_code == 200


def exported_rows(api, path, file_format, django_assert_max_num_queries, queries):
    """The rows of an export, its stream read within a budget of ``queries``."""
    with django_assert_max_num_queries(queries):
        response = api.get(f"{path}&format={file_format}")
        body = b"".join(response.streaming_content)
    return csv_rows(body) if file_format == "csv" else parquet_rows(body)


@pytest.mark.parametrize("file_format", downloads.FORMATS)
def test_a_big_export_costs_as_many_queries_as_a_small_one(
    api, django_assert_max_num_queries, file_format
):
    runs = [
        {"model": "fraud-detector", "version": f"2.{i}", "dataset": "holdout",
         "metrics": [{"name": f"m{k}", "value": i + k / 10} for k in range(5)]}
        for i in range(900)
    ]  # fmt: skip
    for start in range(0, len(runs), 300):
        response = api.post("/api/v1/runs/batch/", {"runs": runs[start : start + 300]}, "json")
        assert response.status_code == 201

    # The token (with its project), the count and one server-side cursor for every row.
    assert len(exported_rows(api, RUNS, file_format, django_assert_max_num_queries, 3)) == 4500
    # The token, the model, the series and the cursor.
    series = "/api/v1/models/fraud-detector/series/?metric=m0"
    assert len(exported_rows(api, series, file_format, django_assert_max_num_queries, 4)) == 900
