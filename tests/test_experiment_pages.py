"""The online comparisons' pages: the project's list (linked from the overview and the model
page) and each experiment's page, with its current decision, the cumulative figures per
version, the chart data over the windows and every decision; members of the project only."""

import json
import re

from evaluations.models import Channel
from evaluations.services import projects
from tests.experiment_bodies import CANARY, canary_window, create, post_window


def chart_data(response):
    html = response.content.decode()
    match = re.search(r'<script id="chart-data" type="application/json">(.*?)</script>', html, re.S)
    assert match, "the page embeds its chart data"
    return json.loads(match.group(1))


def rolled_back(api):
    experiment = create(api, CANARY)
    for index in range(40):
        window = canary_window(index, 0.05, error_rate=0.02)
        if post_window(api, experiment, window).json()["decision"] == "rollback":
            return experiment, index + 1
    raise AssertionError("no rollback")


def test_the_overview_and_the_model_page_lead_to_the_experiments(api, member, run_body):
    api.post("/api/v1/runs/", run_body, format="json")
    experiment, _ = rolled_back(api)

    overview = member.get("/projects/acme/").content.decode()
    (listing,) = re.findall(r'id="experiments-link" href="([^"]+)"', overview)
    page = member.get(listing).content.decode()
    model_page = member.get("/projects/acme/models/fraud-detector/").content.decode()
    (of_model,) = re.findall(r'id="experiments-link" href="([^"]+)"', model_page)

    assert "fraud 1.5 canary" in page and "Rolled Back" in page and "rollback" in page
    assert f'href="/experiments/{experiment["id"]}/"' in page
    assert "fraud 1.5 canary" in member.get(of_model.replace("&amp;", "&")).content.decode()
    assert "No experiments of churn" in member.get(listing, {"model": "churn"}).content.decode()


def test_an_experiment_page_shows_its_decision_figures_and_timeline(api, member):
    experiment, windows = rolled_back(api)

    response = member.get(f"/experiments/{experiment['id']}/")
    html = response.content.decode()
    data = chart_data(response)

    assert response.status_code == 200
    assert 'id="latest-decision">rollback<' in html
    assert "beyond the allowed" in html
    assert html.count("<tr><td>") == windows  # one row per decision
    # The cumulative table's columns follow the experiment's metrics: approvals near 0.8.
    (candidate_row,) = re.findall(r'<th scope="row">1\.5\.0</th>(.*?)</tr>', html, re.S)
    cells = re.findall(r'<td class="num">([\d.,]+)', candidate_row)
    assert 0.7 < float(cells[1]) < 0.9 and float(cells[2]) < 0.05 and float(cells[3]) > 90
    assert data["arms"] == ["1.4.0", "1.5.0"] and len(data["windows"]) == windows
    (error_rate,) = [m for m in data["metrics"] if m["name"] == "error_rate"]
    candidate = error_rate["arms"]["1.5.0"]
    assert len(candidate["mean"]) == windows
    bands = zip(candidate["low"], candidate["mean"], candidate["high"], strict=True)
    assert all(low <= mean <= high for low, mean, high in bands)
    assert data["decisions"][-1] == "rollback" and data["steps"] == [5] * windows
    assert experiment["url"].endswith(f"/experiments/{experiment['id']}/")


def test_a_bandit_page_shows_the_next_split(api, member):
    bandit = create(api, {**CANARY, "name": "offers", "kind": "bandit", "guardrails": [],
                          "candidates": ["1.5.0", "1.6.0"]})  # fmt: skip
    arms = {label: {"n": 1000, "metrics": {"approval_rate": {"successes": k}}}
            for label, k in (("1.4.0", 100), ("1.5.0", 150), ("1.6.0", 110))}  # fmt: skip
    post_window(api, bandit, {"window_id": "b0", "start": "2026-12-06T00:00:00Z",
                              "end": "2026-12-06T00:10:00Z", "arms": arms})  # fmt: skip

    html = member.get(f"/experiments/{bandit['id']}/").content.decode()

    assert re.search(r'id="allocation">[^<]*1\.5\.0 89\.\d%', html), html


def test_experiments_are_for_the_projects_members_only(api, client, member):
    experiment = create(api, CANARY)
    other, _ = projects.ensure_project(name="globex")
    client.force_login(projects.ensure_member(project=other, username="gus"))

    assert client.get(f"/experiments/{experiment['id']}/").status_code == 404
    assert client.get("/projects/acme/experiments/").status_code == 404
    assert client.get("/experiments/999999/").status_code == 404


def test_an_experiment_page_lists_the_alerts_its_decisions_sent(api, member, project):
    Channel.objects.create(project=project, name="oncall", emails=["ana@example.com"])
    experiment, windows = rolled_back(api)

    html = member.get(f"/experiments/{experiment['id']}/").content.decode()

    (table,) = re.findall(r'<table id="alerts">(.*?)</table>', html, re.S)
    assert "ana@example.com" in table
    assert f"Canary rolled back, guardrail breached after w{windows - 1}" in table
    assert "<td>pending</td>" in table  # queued once the decision commits


def test_a_shadows_agreement_is_drawn_on_the_candidate_beside_its_guardrails(api, member):
    latency = {"name": "latency_ms", "type": "mean", "direction": "lower_is_better",
               "max_degradation": 50.0}  # fmt: skip
    shadow = {**CANARY, "name": "shadow", "kind": "shadow", "guardrails": [latency],
              "primary_metric": {"name": "agreement", "type": "proportion",
                                 "direction": "higher_is_better", "min": 0.95}}  # fmt: skip
    experiment = create(api, shadow)
    for index in range(3):
        window = canary_window(index, 0.5, units=2_000)
        for arm in window["arms"].values():
            arm["metrics"] = {"latency_ms": arm["metrics"]["latency_ms"]}
        window["arms"]["1.5.0"]["n"] = window["arms"]["1.4.0"]["n"]
        window["arms"]["1.5.0"]["metrics"] = window["arms"]["1.4.0"]["metrics"]
        window["agreement"] = {"n": 1_000, "agree": 950}
        assert post_window(api, experiment, window).status_code == 201

    response = member.get(f"/experiments/{experiment['id']}/")
    html, data = response.content.decode(), chart_data(response)

    (agreement,) = [m for m in data["metrics"] if m["name"] == "agreement"]
    assert agreement["required"] == 0.95
    assert agreement["arms"]["1.4.0"]["mean"] == [None] * 3
    assert agreement["arms"]["1.5.0"]["mean"] == [0.95] * 3
    assert all(low < 0.95 <= high for low, high in zip(agreement["arms"]["1.5.0"]["low"],
                                                      agreement["arms"]["1.5.0"]["high"],
                                                      strict=True))  # fmt: skip
    (control_row,) = re.findall(r'<th scope="row">1\.4\.0</th>(.*?)</tr>', html, re.S)
    (candidate_row,) = re.findall(r'<th scope="row">1\.5\.0</th>(.*?)</tr>', html, re.S)
    assert re.findall(r'<td class="num">([^<]*)', control_row)[1] == "—"
    assert re.findall(r'<td class="num">([^<]*)', candidate_row)[1].startswith("0.95")
