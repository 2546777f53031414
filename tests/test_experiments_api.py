"""Online comparisons through the API: an experiment per kind, windows of aggregates posted
after one another (idempotent on window_id), the decision after each, and bad windows refused
by field with nothing stored."""

import numpy as np
import pytest

from evaluations.models import Experiment, ExperimentWindow, ModelVersion
from tests.experiment_bodies import CANARY, canary_window, create, post_window


def test_creating_an_experiment_creates_its_versions(api):
    experiment = create(api, CANARY)

    assert experiment["control"] == "1.4.0" and experiment["candidates"] == ["1.5.0"]
    assert experiment["status"] == "running" and experiment["decision"] is None
    assert set(ModelVersion.objects.values_list("label", flat=True)) == {"1.4.0", "1.5.0"}
    listed = api.get("/api/v1/experiments/", {"kind": "canary", "model": "fraud-detector"}).json()
    assert [e["id"] for e in listed["results"]] == [experiment["id"]]
    assert api.get(f"/api/v1/experiments/{experiment['id']}/").json()["history"] == []


def test_a_candidate_with_more_errors_is_rolled_back_and_takes_no_more_windows(api):
    experiment = create(api, CANARY)
    decisions = []
    for index in range(40):
        answer = post_window(api, experiment, canary_window(index, 0.05, error_rate=0.02))
        assert answer.status_code == 201, answer.json()
        decisions.append(answer.json()["decision"])
        if decisions[-1] != "continue":
            break

    assert decisions[-1] == "rollback"
    assert any("error_rate" in reason and "beyond the allowed" in reason
               for reason in answer.json()["reasons"])  # fmt: skip
    detail = api.get(f"/api/v1/experiments/{experiment['id']}/").json()
    assert detail["status"] == "rolled_back"
    assert [d["decision"] for d in detail["history"]] == decisions
    assert detail["decision"]["arms"]["1.5.0"]["metrics"]["error_rate"]["mean"] > 0.015
    late = post_window(api, experiment, canary_window(99, 0.05))
    assert late.status_code == 409


def test_a_healthy_canary_is_promoted_step_by_step(api):
    experiment = create(api, CANARY)
    actions, steps = [], [5, 25, 50]
    for index in range(200):
        share = steps[min(len(steps) - 1, actions.count("promote"))] / 100
        action = post_window(api, experiment, canary_window(index, share, seed=1)).json()[
            "decision"
        ]
        actions.append(action)
        if action in ("complete", "rollback"):
            break

    assert "rollback" not in actions
    assert actions.count("promote") == 2 and actions[-1] == "complete"
    assert Experiment.objects.get().status == "completed"


def test_a_window_is_stored_once(api):
    experiment = create(api, CANARY)
    window = canary_window(0, 0.05)

    first = post_window(api, experiment, window)
    again = post_window(api, experiment, window)
    window["arms"]["1.4.0"]["n"] += 1
    changed = post_window(api, experiment, window)

    assert (first.status_code, again.status_code, changed.status_code) == (201, 200, 409)
    assert again.json() == first.json()
    assert "window_id" in changed.json()
    assert ExperimentWindow.objects.count() == 1


def broken(window, change):
    change(window)
    return window


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda w: w["arms"].update({"2.0": {"n": 5}}), "arms"),
        (lambda w: w["arms"]["1.4.0"].update({"n": -1}), "arms"),
        (lambda w: w["arms"]["1.4.0"].update({"n": 1.5}), "arms"),
        (lambda w: w["arms"]["1.4.0"]["metrics"]["error_rate"].update({"successes": 10**9}),
         "arms.1.4.0.metrics.error_rate"),
        (lambda w: w["arms"]["1.4.0"]["metrics"].update({"nope": {"successes": 1}}),
         "arms.1.4.0.metrics.nope"),
        (lambda w: w["arms"]["1.4.0"]["metrics"]["latency_ms"].update({"sum_sq": 0.0}),
         "arms.1.4.0.metrics.latency_ms"),
        (lambda w: w.update({"end": "2026-12-05T00:00:00Z"}), "end"),
        (lambda w: w.update({"credit": {"1.5.0": 3}}), "credit"),
        (lambda w: w.update({"agreement": {"n": 3, "agree": 2}}), "agreement"),
        (lambda w: w["arms"]["1.4.0"].update({"n": 2**70}), "arms"),
    ],
)  # fmt: skip
def test_bad_windows_are_refused_by_field_and_store_nothing(api, change, field):
    experiment = create(api, CANARY)

    response = post_window(api, experiment, broken(canary_window(0, 0.05), change))

    assert response.status_code == 400, response.json()
    assert field in response.json(), response.json()
    assert not ExperimentWindow.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b: b.update({"kind": "rollout"}), "kind"),
        (lambda b: b.update({"candidates": ["1.5.0", "1.6.0"]}), "candidates"),
        (lambda b: b.update({"candidates": ["1.4.0"]}), "candidates"),
        (lambda b: b.update({"traffic_steps": [25, 5]}), "traffic_steps"),
        (lambda b: b.update({"alpha": 0.9}), "alpha"),
        (lambda b: b["primary_metric"].update({"type": "ratio"}), "primary_metric"),
        (lambda b: b.update({"planned_split": {"9.9": 1}}), "planned_split"),
    ],
)  # fmt: skip
def test_bad_experiments_are_refused_by_field(api, change, field):
    body = {**CANARY, "primary_metric": dict(CANARY["primary_metric"])}
    change(body)

    response = api.post("/api/v1/experiments/", body, format="json")

    assert response.status_code == 400 and field in response.json(), response.json()
    assert not Experiment.objects.exists()


def test_interleaving_credits_decide_a_preference(api):
    experiment = create(api, {**CANARY, "name": "ranker", "kind": "interleaving",
                               "guardrails": []})  # fmt: skip
    rng = np.random.default_rng(3)
    for index in range(200):
        wins = int(rng.binomial(1000, 0.56))
        window = {"window_id": f"i{index}", "start": "2026-12-06T00:00:00Z",
                  "end": "2026-12-06T00:10:00Z",
                  "arms": {"1.4.0": {"n": 1200}, "1.5.0": {"n": 1200}},
                  "credit": {"1.5.0": wins, "1.4.0": 1000 - wins, "ties": 200}}  # fmt: skip
        decision = post_window(api, experiment, window).json()
        if decision["decision"] != "continue":
            break

    assert decision["decision"] == "candidate_better"
    assert Experiment.objects.get().status == "decided"


def test_a_shadow_that_agrees_is_safe_to_switch(api):
    agreement = {"name": "agreement", "type": "proportion", "direction": "higher_is_better",
                 "min": 0.95}  # fmt: skip
    shadow = {**CANARY, "name": "shadow", "kind": "shadow", "guardrails": [],
              "primary_metric": agreement}  # fmt: skip
    experiment = create(api, shadow)
    for index in range(100):
        window = {"window_id": f"s{index}", "start": "2026-12-06T00:00:00Z",
                  "end": "2026-12-06T00:10:00Z",
                  "agreement": {"n": 1000, "agree": 985}}  # fmt: skip
        decision = post_window(api, experiment, window).json()
        if decision["decision"] != "continue":
            break

    assert decision["decision"] == "safe_to_switch"


def test_a_bandit_moves_traffic_to_the_better_arm_and_records_each_allocation(api):
    experiment = create(api, {**CANARY, "name": "offers", "kind": "bandit", "guardrails": [],
                              "candidates": ["1.5.0", "1.6.0"], "seed": 4,
                              "primary_metric": {"name": "conversion", "type": "proportion",
                                                 "direction": "higher_is_better"}})  # fmt: skip
    path = f"/api/v1/experiments/{experiment['id']}/allocation/"
    assert api.get(path).json()["weights"] == pytest.approx(
        dict.fromkeys(["1.4.0", "1.5.0", "1.6.0"], 1 / 3)
    )
    rng = np.random.default_rng(5)
    rates = {"1.4.0": 0.10, "1.5.0": 0.10, "1.6.0": 0.14}
    for index in range(60):
        weights = api.get(path).json()["weights"]
        arms = {}
        for label, rate in rates.items():
            n = int(3000 * weights[label])
            arms[label] = {
                "n": n,
                "metrics": {"conversion": {"successes": int(rng.binomial(n, rate))}},
            }
        window = {"window_id": f"b{index}", "start": "2026-12-06T00:00:00Z",
                  "end": "2026-12-06T00:10:00Z", "arms": arms}  # fmt: skip
        decision = post_window(api, experiment, window).json()
        if decision["decision"] == "winner":
            break

    assert decision["decision"] == "winner"
    assert max(decision["allocation"], key=decision["allocation"].get) == "1.6.0"
    assert min(decision["allocation"].values()) >= 0.05 - 1e-9
    assert api.get(path).json()["weights"] == decision["allocation"]


def test_stopping_ends_an_experiment(api):
    experiment = create(api, CANARY)
    post_window(api, experiment, canary_window(0, 0.05))

    stopped = api.post(f"/api/v1/experiments/{experiment['id']}/stop/").json()
    late = post_window(api, experiment, canary_window(1, 0.05))

    assert stopped["status"] == "stopped" and stopped["decision"]["decision"] == "stopped"
    assert late.status_code == 409
    assert api.get("/api/v1/experiments/", {"status": "stopped"}).json()["count"] == 1


def test_another_projects_experiment_is_not_found(api, other_api):
    experiment = create(api, CANARY)

    assert other_api.get(f"/api/v1/experiments/{experiment['id']}/").status_code == 404
    assert post_window(other_api, experiment, canary_window(0, 0.05)).status_code == 404


def test_listing_experiments_costs_the_same_however_many(api, django_assert_num_queries):
    def listed():
        with django_assert_num_queries(6) as captured:  # token, count, page, arms, versions,
            response = api.get("/api/v1/experiments/")  # latest decisions
        assert response.status_code == 200
        return len(captured), response.json()["count"]

    for index in range(3):
        experiment = create(api, {**CANARY, "name": f"canary {index}"})
        post_window(api, experiment, canary_window(0, 0.05))
        assert listed() == (6, index + 1)
