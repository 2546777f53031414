"""Replicate sets in what leaves the server: a series export holds each set as the series API
does (one row, its mean with the seeds' count and spread), the runs export keeps every run
with its seed, the baseline file of a seeded version carries its sets so that the CI client
judges offline as the server does, and a comparison compares the versions' sets."""

import csv
import io
import json

import pytest

from tests.test_exports_api import csv_rows, download, number
from tests.test_replicates import BASE, pin, points, post_history, post_seeds, seed_body
from trackerclient import baseline_file, offline

SERIES = "/api/v1/models/ranker/series/?metric=accuracy"


def csv_points(api, path):
    response = api.get(f"{path}&format=csv")
    assert response.status_code == 200, response.content
    rows = csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode()))
    return [
        {"version": r["version"], "value": float(r["value"]), "n": number(r["n"]) and int(r["n"]),
         "ci_low": number(r["ci_low"]), "ci_high": number(r["ci_high"]),
         "run_id": int(r["run_id"]), "at": r["at"], "replicates": int(r["replicates"]),
         "sd": number(r["sd"])}
        for r in rows
    ]  # fmt: skip


@pytest.mark.parametrize("limit", [None, 1, 2, 3, 5, 100])
def test_a_series_export_holds_each_set_as_one_point_as_the_api_does(api, limit):
    post_history(api, versions=6)  # 1.0 and 1.4 single runs, the others three seeds each
    path = SERIES if limit is None else f"{SERIES}&limit={limit}"

    exported = csv_points(api, path)

    assert exported == api.get(path).json()["points"]
    assert len(exported) == (6 if limit is None else min(limit, 6))
    if limit is None:
        assert [p["replicates"] for p in exported] == [1, 3, 3, 3, 1, 3]
        assert exported[1]["sd"] > 0 and exported[0]["sd"] is None


def test_the_runs_export_keeps_every_seed_as_posted(api, post_run):
    answers = post_seeds(post_run, "1.0", BASE)

    response = api.get("/api/v1/runs/?model=ranker&format=csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))

    assert [(int(r["run_id"]), int(r["seed"]), float(r["value"])) for r in rows] == [
        (a["id"], a["seed"], value) for a, value in reversed(list(zip(answers, BASE, strict=True)))
    ]


def test_the_baseline_file_of_a_seeded_version_carries_its_sets(api, post_run, tmp_path):
    post_seeds(post_run, "1.0", BASE, n=1000)
    pin(api, "1.0")
    (point,) = points(api)

    exported = api.get("/api/v1/models/ranker/baseline/?dataset=holdout&format=file")
    document = json.loads(exported.content)
    (result,) = document["results"]
    assert (result["value"], result["sd"], result["replicates"]) == (
        point["value"], point["sd"], 3
    )  # fmt: skip
    assert (result["ci_low"], result["ci_high"], result["n"]) == (
        point["ci_low"], point["ci_high"], 1000
    )  # fmt: skip
    (value,) = api.get("/api/v1/models/ranker/baseline/?dataset=holdout").json()["values"]
    assert value == result

    path = tmp_path / "baselines.json"
    path.write_text(exported.content.decode())
    for candidate in (seed_body("1.1", None, 0.80, hour=1), seed_body("1.1", None, 0.905)):
        server = api.post("/api/v1/runs/?dry_run=1", candidate, format="json").json()["gate"]
        assert offline.gate_run(candidate, baseline_file.load(path)) == server
        assert server["checks"][0]["method"] == "Welch t-test, 1 vs 3 seeds, df=2"


def test_a_comparison_of_two_seeded_versions_compares_their_sets(api, post_run):
    post_seeds(post_run, "1.0", BASE)
    post_seeds(post_run, "1.1", [0.80, 0.815, 0.805], hour=1)
    sets = {p["version"]: p for p in points(api)}

    answer = api.get("/api/v1/models/ranker/compare/?a=1.0&b=1.1&dataset=holdout").json()

    (row,) = answer["metrics"]
    assert (row["a"], row["b"]) == (sets["1.0"]["value"], sets["1.1"]["value"])
    assert row["method"].startswith("Welch t-test, 3 vs 3 seeds")
    assert row["change"] == "worse" and row["significant"] is True
    assert (row["a_replicates"], row["b_replicates"]) == (3, 3)
    assert (row["a_sd"], row["b_sd"]) == (sets["1.0"]["sd"], sets["1.1"]["sd"])
    _, body = download(api, "/api/v1/models/ranker/compare/?a=1.0&b=1.1&dataset=holdout", "csv")
    (csv_row,) = csv_rows(body)
    assert (csv_row["a_replicates"], float(csv_row["b_sd"])) == ("3", sets["1.1"]["sd"])


def test_the_compare_page_shows_each_sides_seeds_and_spread(api, post_run, member):
    post_seeds(post_run, "1.0", BASE)
    post_seeds(post_run, "1.1", [0.80, 0.815, 0.805], hour=1)
    post_run(seed_body("1.2", None, 0.8, hour=2))
    sd = {p["version"]: p["sd"] for p in points(api)}

    page = member.get("/projects/acme/models/ranker/compare/?a=1.0&b=1.1&dataset=holdout")
    text = page.content.decode()
    assert page.status_code == 200
    assert text.count("3 seeds</span>") == 2
    assert f"sd {sd['1.1']:.4f}, 3 seeds" in text
    single = member.get("/projects/acme/models/ranker/compare/?a=1.1&b=1.2&dataset=holdout")
    assert single.content.decode().count(" seeds</span>") == 1  # 1.2 is one run
