"""The gate's verdict is judged once per run and stored: pages, replays and the overview show
the verdict the post answered, and large per-example outcomes are judged quickly."""

import base64
import json

import numpy as np
import pytest
from scipy import stats as scipy_stats

from evaluations.models import EvaluationRun

HOLDOUT = {"name": "holdout", "version": "2024-06", "size": 10000}
MODEL_PATH = "/api/v1/models/fraud-detector"


def run(version, accuracy, **extra):
    return {"model": "fraud-detector", "version": version, "dataset": HOLDOUT,
            "metrics": [{"name": "accuracy", "value": accuracy, "n": 10000}], **extra}  # fmt: skip


def pin(api, version, dataset="holdout"):
    response = api.put(f"{MODEL_PATH}/baseline/", {"dataset": dataset, "version": version},
                       format="json")  # fmt: skip
    assert response.status_code == 200, response.json()


def add_rule(api, **rule):
    response = api.post(f"{MODEL_PATH}/thresholds/", rule, format="json")
    assert response.status_code == 201, response.json()


@pytest.fixture
def failed_post(api):
    """1.1 posted against baseline 1.0 under a max_drop rule: its answer says failed."""
    assert api.post("/api/v1/runs/", run("1.0", 0.93), format="json").status_code == 201
    pin(api, "1.0")
    add_rule(api, metric="accuracy", max_drop=0.01)
    response = api.post("/api/v1/runs/", run("1.1", 0.90, external_id="ci-11"), format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["gate"]["status"] == "failed"
    return response.json()


def test_the_pages_show_the_verdict_the_post_answered_after_the_baseline_moves(
    api, member, failed_post
):
    # Judged again, 1.1 would now pass: it is the baseline itself.
    pin(api, "1.1")

    run_page = member.get(f"/runs/{failed_post['id']}/").content.decode()
    overview = member.get("/projects/acme/").content.decode()

    assert "gate-failed" in run_page
    assert failed_post["gate"]["checks"][0]["message"].replace("<", "&lt;") in run_page
    assert "gate-failed" in overview and "gate-passed" not in overview


def test_a_replay_answers_the_stored_verdict(api, failed_post):
    pin(api, "1.1")

    replay = api.post("/api/v1/runs/", run("1.1", 0.90, external_id="ci-11"), format="json")

    assert replay.status_code == 200
    assert replay.json()["gate"] == failed_post["gate"]


def test_a_run_stored_before_verdicts_were_kept_is_judged_when_first_shown_and_never_again(
    api, member
):
    runs = [run("1.0", 0.93), run("1.1", 0.90), run("1.2", 0.93)]
    assert api.post("/api/v1/runs/batch/", {"runs": runs}, format="json").status_code == 201
    pin(api, "1.0")
    add_rule(api, metric="accuracy", max_drop=0.01)  # judges the latest run, 1.2, again
    earlier = EvaluationRun.objects.get(model_version__label="1.1")
    EvaluationRun.objects.filter(pk=earlier.pk).update(gate_verdict=None)  # as if stored before

    first = member.get(f"/runs/{earlier.pk}/").content.decode()
    pin(api, "1.1")
    again = member.get(f"/runs/{earlier.pk}/").content.decode()

    assert "gate-failed" in first and "gate-failed" in again
    earlier.refresh_from_db()
    assert earlier.gate_verdict["status"] == "failed"


def test_a_shown_run_costs_no_gate_queries_once_judged(api, member, failed_post,
                                                       django_assert_max_num_queries):  # fmt: skip
    path = f"/runs/{failed_post['id']}/"
    with django_assert_max_num_queries(100) as judged:
        assert member.get(path).status_code == 200
    EvaluationRun.objects.update(gate_verdict=None)  # as if stored before verdicts were kept
    with django_assert_max_num_queries(100) as unjudged:
        assert member.get(path).status_code == 200
    with django_assert_max_num_queries(100) as judged_again:
        assert member.get(path).status_code == 200

    # Judging reads the pin, the baseline's values and the rules, and stores the verdict.
    assert len(unjudged.captured_queries) >= len(judged.captured_queries) + 4
    assert len(judged_again.captured_queries) == len(judged.captured_queries)


def test_a_check_with_an_infinite_figure_is_stored_and_shown(api, member):
    assert api.post("/api/v1/runs/", run("1.0", 0.93), format="json").status_code == 201
    pin(api, "1.0")
    add_rule(api, metric="accuracy", budget=0)  # any erosion uses it infinitely

    response = api.post("/api/v1/runs/", run("1.1", 0.92), format="json")

    assert response.status_code == 201, response.content
    (check,) = [c for c in response.json()["gate"]["checks"] if c["rule"] == "budget"]
    assert (check["status"], check["budget_used"]) == ("failed", None)
    assert "gate-failed" in member.get(f"/runs/{response.json()['id']}/").content.decode()


def encode(bits):
    return base64.b64encode(np.packbits(bits).tobytes()).decode()


def outcomes_run(version, correct):
    size = len(correct)
    return {"model": "fraud-detector", "version": version,
            "dataset": {"name": "holdout", "version": "big", "size": size},
            "metrics": [{"name": "accuracy", "value": float(correct.mean()), "n": size,
                         "outcomes": encode(correct)}]}  # fmt: skip


def test_a_post_with_200000_outcomes_and_40000_discordant_pairs_is_judged_by_mcnemar(api, member):
    rng = np.random.default_rng(3)
    base = rng.uniform(size=200_000) < 0.8
    new = base.copy()
    right, wrong = np.flatnonzero(base), np.flatnonzero(~base)
    new[rng.choice(right, size=20_400, replace=False)] = False  # broken
    new[rng.choice(wrong, size=19_600, replace=False)] = True  # fixed
    assert api.post("/api/v1/runs/", outcomes_run("1.0", base), format="json").status_code == 201
    pin(api, "1.0")
    add_rule(api, metric="accuracy", significance=0.05)

    response = api.post("/api/v1/runs/", outcomes_run("1.1", new), format="json")

    assert response.status_code == 201, response.json()
    (check,) = response.json()["gate"]["checks"]
    expected = scipy_stats.binomtest(20_400, 40_000, 0.5, alternative="greater").pvalue
    assert check["method"] == "McNemar 20400 vs 19600"
    assert check["p_value"] == pytest.approx(expected, rel=1e-9)
    assert check["status"] == "failed"
    compared = api.get(f"{MODEL_PATH}/compare/?a=1.0&b=1.1&dataset=holdout").json()
    assert compared["metrics"][0]["p_value"] == pytest.approx(expected, rel=1e-9)
    assert (
        "McNemar 20400 vs 19600" in member.get(f"/runs/{response.json()['id']}/").content.decode()
    )


@pytest.mark.parametrize("outcomes", ["AAAA\u00e9AAA", "AA\x00A", "\ud800AAA", 12345678])
def test_outcomes_that_are_not_base64_text_are_refused_by_field(api, outcomes):
    body = run("1.0", 0.9)
    body["metrics"][0]["outcomes"] = outcomes

    # Sent as ASCII JSON, escapes and all: a lone surrogate cannot be encoded in UTF-8.
    response = api.post("/api/v1/runs/", json.dumps(body), content_type="application/json")

    assert response.status_code == 400
    assert response.json()["metrics"]["0"]["outcomes"]
    assert not EvaluationRun.objects.exists()
