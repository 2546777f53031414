"""Dashboard pages: the project overview, the model page's charts, compare and pin, run and
finding pages; members only."""

import json
import re

import pytest
from django.db import connection

from evaluations.models import BaselinePin, Finding
from evaluations.services import projects
from tests.histories import add_rule, drifting_history, pin_baseline, post_batch


@pytest.fixture
def history(api, django_capture_on_commit_callbacks):
    """50 versions, posted as CI would have: 1.10 pinned as the baseline, with a rule, before
    the later versions were posted (so that the gate judged them against it)."""
    runs = drifting_history()
    with django_capture_on_commit_callbacks(execute=True):
        post_batch(api, runs[:11])
        pin_baseline(api, "1.10")
        add_rule(api, metric="accuracy", min=0.9, max_drop=0.01)
        post_batch(api, runs[11:])


def chart_data(response):
    html = response.content.decode()
    match = re.search(r'<script id="chart-data" type="application/json">(.*?)</script>', html, re.S)
    assert match, "the page embeds its chart data"
    return json.loads(match.group(1))


PAGES = (
    "/projects/acme/",
    "/projects/acme/models/fraud-detector/",
    "/projects/acme/models/fraud-detector/compare/",
    "/projects/acme/models/fraud-detector/baseline/?version=1.1&dataset=holdout",
)


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_visitors_are_sent_to_login(client, history, path):
    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


@pytest.mark.parametrize("path", PAGES)
def test_a_non_member_gets_404(client, history, path):
    other, _ = projects.ensure_project(name="globex")
    client.force_login(projects.ensure_member(project=other, username="eve"))

    assert client.get(path).status_code == 404


def test_the_overview_shows_gate_findings_and_a_sparkline(member, history):
    response = member.get("/projects/acme/")

    html = response.content.decode()
    assert response.status_code == 200
    assert 'href="/projects/acme/models/fraud-detector/"' in html
    assert "1.49" in html  # the latest version
    assert "gate-failed" in html  # accuracy fell below baseline 1.10 by more than 0.01
    assert re.search(r'<svg class="sparkline"[^>]*aria-label="accuracy: [0-9.]+ to [0-9.]+', html)
    finding = Finding.objects.get(kind="drift")
    assert f'href="/findings/{finding.pk}/"' in html


def test_the_model_page_charts_every_metric_with_baseline_thresholds_and_findings(member, history):
    response = member.get("/projects/acme/models/fraud-detector/")

    assert response.status_code == 200
    data = chart_data(response)
    assert data["dataset"] == {"name": "holdout", "version": "v1"}
    assert data["runs"]["version"][:2] == ["1.0", "1.1"]
    assert len(data["runs"]["version"]) == 50
    assert data["runs"]["commit"][3] == "c0000003"
    names = [metric["name"] for metric in data["metrics"]]
    assert names == ["accuracy", "latency_p95_ms"]  # overall slice only by default
    (accuracy,) = data["metrics"][0]["series"]
    assert accuracy["baseline"]["version"] == "1.10"
    limits = {limit["kind"]: limit["value"] for limit in accuracy["thresholds"]}
    assert limits["min"] == 0.9
    assert limits["max_drop"] == pytest.approx(accuracy["baseline"]["value"] - 0.01)
    assert [limit["rule"] for limit in accuracy["thresholds"]] == ["min 0.9", "max drop 0.01"]
    # The drift the analysis found, and the breach of max_drop the latest version left.
    assert sorted(f["kind"] for f in accuracy["findings"]) == ["drift", "threshold"]
    assert accuracy["trend"]["slope"] < 0
    assert accuracy["n"][0] == 10000
    (latency,) = data["metrics"][1]["series"]
    assert latency["ci_low"][0] == 39.0 and latency["ci_high"][0] == 43.0
    assert latency["baseline"]["value"] == 40.0  # version 1.10: 40 + 10 % 2
    html = response.content.decode()
    assert "vendor/plotly.min.js" in html
    assert '<th scope="row">accuracy</th>' in html  # the table readable without JavaScript


def test_the_model_page_selects_slices_and_datasets_from_the_url(member, api, history):
    extra = drifting_history(count=12, dataset={"name": "holdout", "version": "v2"}, start=60)
    assert api.post("/api/v1/runs/batch/", {"runs": extra}, format="json").status_code == 201
    base = "/projects/acme/models/fraud-detector/"

    one = chart_data(member.get(base + "?dataset=holdout&dataset_version=v1&slice=country%3DDE"))
    every = chart_data(member.get(base + "?dataset=holdout&dataset_version=v1&slice=*"))
    newest = chart_data(member.get(base))
    by_choice = chart_data(member.get(base + "?dataset_choice=holdout%40%40v1"))
    last = chart_data(member.get(base + "?dataset=holdout&dataset_version=v1&last=50"))

    assert [(m["name"], [s["slice"] for s in m["series"]]) for m in one["metrics"]] == [
        ("f1", ["country=DE"])
    ]
    f1 = next(m for m in every["metrics"] if m["name"] == "f1")
    assert [s["slice"] for s in f1["series"]] == ["country=DE", "country=US"]
    assert newest["dataset"]["version"] == "v2"
    assert len(newest["runs"]["version"]) == 12
    assert by_choice["dataset"]["version"] == "v1"
    assert len(last["runs"]["version"]) == 50
    assert member.get(base + "?dataset=nope").status_code == 404
    assert member.get(base + "?last=7").status_code == 400
    warned = member.get(base + "?slice=country%3DFR", follow=True)
    assert "No results on slice" in warned.content.decode()


def counted_get(client, path):
    """(response, number of SQL queries it took)."""
    executed = []
    with connection.execute_wrapper(lambda execute, *args: executed.append(1) or execute(*args)):
        response = client.get(path)
    return response, len(executed)


def test_the_model_page_query_count_does_not_grow_with_history(member, api, history):
    path = "/projects/acme/models/fraud-detector/?slice=*"
    small, small_count = counted_get(member, path)
    assert small.status_code == 200
    bigger = drifting_history(count=60, start=50)[10:]  # 50 more versions
    for run in bigger:
        run["metrics"] += [{"name": f"extra_{k}", "value": 0.5, "slice": s}
                           for k in range(8) for s in ("overall", "country=DE")]  # fmt: skip
    assert api.post("/api/v1/runs/batch/", {"runs": bigger}, format="json").status_code == 201

    response, count = counted_get(member, path)

    assert len(chart_data(response)["metrics"]) == 11
    # 21: with the model's alert precision and recall, its missed regressions and whether
    # the user may mark one.
    assert count == small_count <= 21


def test_compare_shows_deltas_coloured_by_direction_and_pins_a_baseline(member, history):
    page = member.get("/projects/acme/models/fraud-detector/compare/")

    html = page.content.decode()
    assert page.status_code == 200
    assert "1.10 → 1.49" in html  # the baseline against the latest by default
    accuracy_row = re.search(r'<tr class="(\w+)">\s*<th scope="row">accuracy</th>', html)
    assert accuracy_row.group(1) == "worse"
    assert "significant" in html
    confirm = member.get(
        "/projects/acme/models/fraud-detector/baseline/?version=1.49&dataset=holdout"
        "&dataset_version=v1"
    )
    assert "Pin fraud-detector 1.49 as the baseline on holdout?" in confirm.content.decode()
    assert BaselinePin.objects.count() == 1  # asking does not pin

    unconfirmed = member.post(
        "/projects/acme/models/fraud-detector/baseline/",
        {"version": "1.49", "dataset": "holdout", "dataset_version": "v1"},
    )
    assert unconfirmed.status_code == 200 and BaselinePin.objects.count() == 1
    pinned = member.post(
        "/projects/acme/models/fraud-detector/baseline/",
        {"version": "1.49", "dataset": "holdout", "dataset_version": "v1", "confirmed": "on",
         "note": "new release"},
        follow=True,
    )  # fmt: skip

    assert BaselinePin.objects.count() == 2
    latest = BaselinePin.objects.order_by("-pinned_at", "-id").first()
    assert (latest.model_version.label, latest.pinned_by, latest.note) == (
        "1.49", "ana", "new release"
    )  # fmt: skip
    assert "is now the baseline on holdout" in pinned.content.decode()


def test_pinning_an_unknown_version_says_so_and_pins_nothing(member, history):
    response = member.post(
        "/projects/acme/models/fraud-detector/baseline/",
        {"version": "9.9", "dataset": "holdout", "confirmed": "on"},
        follow=True,
    )

    assert "fraud-detector 9.9 has no run on holdout" in response.content.decode()
    assert BaselinePin.objects.count() == 1


def test_the_run_page_shows_the_gate_checks(member, history):
    from evaluations.models import EvaluationRun

    run = EvaluationRun.objects.get(model_version__label="1.49")
    html = member.get(f"/runs/{run.pk}/").content.decode()

    assert "gate-failed" in html
    assert "max_drop" in html
    assert "accuracy" in html and "&lt; baseline" in html


def test_the_finding_page_charts_the_window_of_the_change(member, history):
    finding = Finding.objects.get(kind="drift")

    response = member.get(f"/findings/{finding.pk}/")

    data = chart_data(response)
    (metric,) = data["metrics"]
    assert metric["name"] == "accuracy"
    versions = data["runs"]["version"]
    assert versions[-1] == "1.49"
    assert versions.index(finding.start_version.label) == 20  # 20 runs of context before it
    assert finding.pk in [f["id"] for f in metric["series"][0]["findings"]]


def test_plotly_js_is_served_from_the_installed_package_and_nothing_else_is():
    from django.contrib.staticfiles import finders

    assert finders.find("vendor/plotly.min.js").endswith("plotly/package_data/plotly.min.js")
    assert finders.find("vendor/nope.js") is None
    assert finders.find("css/app.css").endswith("static/css/app.css")


def test_a_sparkline_of_values_near_the_float_limits_draws_finite_points():
    from evaluations.templatetags.charts import sparkline

    svg = sparkline([1e308, -1e308, 1e308], label="score")

    points = svg.split('points="')[1].split('"')[0].split()
    assert [tuple(map(float, p.split(","))) for p in points] == [
        (2.0, 2.0), (60.0, 26.0), (118.0, 2.0),
    ]  # fmt: skip


def test_the_model_page_names_the_baseline_only_on_the_dataset_version_it_ran_on(
    member, api, history
):
    extra = drifting_history(count=12, dataset={"name": "holdout", "version": "v2"}, start=60)
    assert api.post("/api/v1/runs/batch/", {"runs": extra}, format="json").status_code == 201
    base = "/projects/acme/models/fraud-detector/"

    on_v1 = member.get(base + "?dataset=holdout&dataset_version=v1").content.decode()
    on_v2 = member.get(base + "?dataset=holdout&dataset_version=v2").content.decode()

    assert "· baseline 1.10" in on_v1 and "baseline-elsewhere" not in on_v1
    assert "· baseline 1.10" not in on_v2
    assert "the baseline, 1.10, is on holdout@v1, not on this version" in on_v2


def test_compare_offers_to_pin_only_the_version_that_is_not_the_baseline(member, history):
    html = member.get("/projects/acme/models/fraud-detector/compare/").content.decode()

    assert "1.10 → 1.49" in html
    assert "Pin 1.49 as baseline…" in html
    assert "Pin 1.10 as baseline…" not in html
    assert "1.10 is pinned as the baseline" in html
