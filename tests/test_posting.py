"""Every post goes one way (services.posting): a run posted in a batch is judged as it would be
posted alone, its verdict stored with it, and the threshold breaches a batch leaves become
findings, without opening and closing them run by run; the gate reads a model's baseline and
rules once per batch."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from evaluations.models import EvaluationRun, Finding
from evaluations.services import projects

HOLDOUT = {"name": "holdout", "version": "2024-06", "size": 10000}
MODEL_PATH = "/api/v1/models/fraud-detector"


def run(version, accuracy):
    return {"model": "fraud-detector", "version": version, "dataset": HOLDOUT,
            "metrics": [{"name": "accuracy", "value": accuracy, "n": 10000}]}  # fmt: skip


def post_batch(api, runs):
    response = api.post("/api/v1/runs/batch/", {"runs": runs}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


@pytest.fixture
def gated(api):
    """1.0 posted and pinned, with a rule: accuracy may drop by at most 0.01 from it."""
    assert api.post("/api/v1/runs/", run("1.0", 0.93), format="json").status_code == 201
    response = api.put(f"{MODEL_PATH}/baseline/", {"dataset": "holdout", "version": "1.0"},
                       format="json")  # fmt: skip
    assert response.status_code == 200, response.json()
    response = api.post(f"{MODEL_PATH}/thresholds/", {"metric": "accuracy", "max_drop": 0.01},
                        format="json")  # fmt: skip
    assert response.status_code == 201, response.json()
    return api


def verdicts():
    runs = EvaluationRun.objects.order_by("pk").select_related("model_version")
    return {r.model_version.label: (r.gate_verdict or {}).get("status") for r in runs}


def threshold_findings():
    return list(
        Finding.objects.filter(kind="threshold")
        .order_by("pk")
        .values_list("status", "start_version__label", "end_version__label")
    )


def test_each_run_of_a_batch_is_judged_and_its_verdict_kept_at_post_time(gated, client, project):
    answer = post_batch(gated, [run("1.1", 0.90), run("1.2", 0.93)])

    # 1.0, posted before anything was pinned, was judged again when its rule was set.
    assert verdicts() == {"1.0": "passed", "1.1": "failed", "1.2": "passed"}
    client.force_login(projects.ensure_member(project=project, username="ana"))
    page = client.get(f"/runs/{answer['runs'][0]['id']}/").content.decode()
    assert "gate-failed" in page
    # The answer keeps its shape: one item per run, no verdicts.
    assert [set(item) for item in answer["runs"]] == [{"id", "external_id", "created", "url"}] * 2


def test_a_backfill_ending_in_a_breach_opens_one_finding_spanning_the_breach(gated):
    post_batch(gated, [run("1.1", 0.93), run("1.2", 0.90), run("1.3", 0.89), run("1.4", 0.90)])

    assert threshold_findings() == [("open", "1.2", "1.4")]


def test_a_backfill_ending_in_a_pass_resolves_the_open_breach_and_opens_none(gated):
    assert gated.post("/api/v1/runs/", run("1.1", 0.90), format="json").status_code == 201
    assert threshold_findings() == [("open", "1.1", "1.1")]

    post_batch(gated, [run("1.2", 0.90), run("1.3", 0.85), run("1.4", 0.93), run("1.5", 0.93)])

    assert threshold_findings() == [("resolved", "1.1", "1.1")]


def test_a_breach_the_batch_opened_and_closed_again_leaves_no_finding(gated):
    post_batch(gated, [run("1.1", 0.90), run("1.2", 0.93)])

    assert threshold_findings() == []


def test_a_replayed_batch_keeps_its_verdicts_and_findings(gated):
    runs = [{**run(f"1.{i}", 0.90), "external_id": f"ci-{i}"} for i in (1, 2)]
    post_batch(gated, runs)
    before = (verdicts(), threshold_findings())

    response = gated.post("/api/v1/runs/batch/", {"runs": runs}, format="json")

    assert response.status_code == 200
    assert (verdicts(), threshold_findings()) == before


@pytest.mark.postgres
def test_a_batch_reads_the_baseline_and_rules_once_per_model_and_dataset(gated):
    post_batch(gated, [run(f"2.{i}", 0.93) for i in range(3)])  # rows now exist and are known

    counts = []
    for size in (3, 30):
        with CaptureQueriesContext(connection) as queries:
            post_batch(gated, [run(f"{size}.{i}", 0.93) for i in range(size)])
        counts.append(len(queries.captured_queries))

    assert counts[0] == counts[1]
    assert {status for label, status in verdicts().items() if label != "1.0"} == {"passed"}
