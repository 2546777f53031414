"""A rule set or changed after the runs judges the latest runs again: a floor the latest run
already breaches is a threshold finding at once, and the overview says the gate failed."""

import pytest

from evaluations.models import EvaluationRun, Finding

MODEL_PATH = "/api/v1/models/fraud-detector"
JUNE = {"name": "holdout", "version": "2026-06", "size": 400000}
SEPTEMBER = {"name": "holdout", "version": "2026-09", "size": 520000}


def run(version, recall, dataset=JUNE):
    return {"model": "fraud-detector", "version": version, "dataset": dataset,
            "metrics": [{"name": "recall", "value": recall, "n": 6000},
                        {"name": "accuracy", "value": 0.99, "n": dataset["size"]}]}  # fmt: skip


@pytest.fixture
def posted(api):
    for version, recall in [("2.3.0", 0.83), ("2.3.1", 0.81), ("2.3.2", 0.794)]:
        response = api.post("/api/v1/runs/", run(version, recall), format="json")
        assert response.status_code == 201, response.json()
        assert response.json()["gate"]["status"] == "no_baseline"


def threshold_findings(api):
    body = api.get("/api/v1/findings/?model=fraud-detector&status=open").json()
    return [f for f in body["results"] if f["kind"] == "threshold"]


def add_floor(api, value):
    response = api.post(f"{MODEL_PATH}/thresholds/", {"metric": "recall", "min": value},
                        format="json")  # fmt: skip
    assert response.status_code == 201, response.json()
    return response.json()


def test_a_floor_set_after_the_latest_run_breached_it_is_a_finding(api, member, posted):
    assert threshold_findings(api) == []

    add_floor(api, 0.8)

    [finding] = threshold_findings(api)
    assert (finding["metric"], finding["dataset_version"], finding["end_version"]) == (
        "recall",
        "2026-06",
        "2.3.2",
    )
    assert "recall 0.794 < floor 0.8" in finding["message"]
    latest = EvaluationRun.objects.get(model_version__label="2.3.2")
    assert latest.gate_verdict["status"] == "failed"
    overview = member.get("/projects/acme/").content.decode()
    assert "gate-failed" in overview and "gate-no_baseline" not in overview
    # Earlier runs keep the verdicts their posts answered: only the latest stands for now.
    assert EvaluationRun.objects.get(model_version__label="2.3.1").gate_verdict["status"] == (
        "no_baseline"
    )


def test_lowering_the_floor_below_the_latest_run_resolves_the_finding(api, member, posted):
    rule = add_floor(api, 0.8)

    response = api.patch(f"{MODEL_PATH}/thresholds/{rule['id']}/", {"min": 0.79}, format="json")

    assert response.status_code == 200, response.json()
    assert threshold_findings(api) == []
    assert Finding.objects.get(kind="threshold").status == "resolved"
    assert "gate-passed" in member.get("/projects/acme/").content.decode()


def test_deleting_the_rule_resolves_its_finding(api, posted):
    rule = add_floor(api, 0.8)
    assert len(threshold_findings(api)) == 1

    assert api.delete(f"{MODEL_PATH}/thresholds/{rule['id']}/").status_code == 204

    assert threshold_findings(api) == []
    assert Finding.objects.get(kind="threshold").status == "resolved"
    latest = EvaluationRun.objects.get(model_version__label="2.3.2")
    assert latest.gate_verdict == {"status": "no_baseline", "base_branch": "main", "checks": []}


def test_the_latest_run_of_each_dataset_version_is_judged(api, posted):
    response = api.post("/api/v1/runs/", run("2.3.2", 0.85, SEPTEMBER), format="json")
    assert response.status_code == 201, response.json()

    add_floor(api, 0.8)

    [finding] = threshold_findings(api)
    assert (finding["dataset_version"], finding["message"]) == (
        "2026-06",
        "recall 0.794 < floor 0.8",
    )
    september = EvaluationRun.objects.get(dataset__version="2026-09")
    assert september.gate_verdict["status"] == "passed"
