"""Seed replicates: a version's runs of distinct seeds are one point of each series, their mean
with their spread as its noise, judged by the gate with Welch's t-test."""

import json
import math
import statistics
import time
from datetime import UTC, datetime, timedelta

import pytest
from scipy import stats as scipy_stats

from evaluations import selectors
from evaluations.models import EvaluationRun, MetricResult, ReplicateSet, Series
from evaluations.selectors import charts
from evaluations.services import series_analysis

START = datetime(2026, 3, 1, tzinfo=UTC)


def seed_body(version, seed, value, *, hour=0, f1=None, external_id=None, **metric):
    metrics = [{"name": "accuracy", "value": value, **metric}]
    if f1 is not None:
        metrics.append({"name": "f1", "value": f1})
    return {
        "model": "ranker", "version": version, "dataset": {"name": "holdout", "version": "v1"},
        "seed": seed, "external_id": external_id,
        "finished_at": (START + timedelta(hours=hour)).isoformat(), "metrics": metrics,
    }  # fmt: skip


def post_seeds(post_run, version, values, *, hour=0, **extra):
    answers = []
    for i, value in enumerate(values):
        response = post_run(seed_body(version, 100 + i, value, hour=hour, **extra))
        assert response.status_code == 201, response.json()
        answers.append(response.json())
    return answers


def points(api, metric="accuracy", **params):
    query = "&".join(f"{key}={value}" for key, value in {"metric": metric, **params}.items())
    response = api.get(f"/api/v1/models/ranker/series/?{query}")
    assert response.status_code == 200, response.json()
    return response.json()["points"]


def t975(df):
    return scipy_stats.t.ppf(0.975, df)


@pytest.mark.django_db
def test_three_seeds_of_a_version_are_one_point_with_their_mean_and_spread(api, post_run):
    values = [0.90, 0.93, 0.91]
    answers = post_seeds(post_run, "1.0", values)

    (point,) = points(api)
    mean, sd = statistics.mean(values), statistics.stdev(values)
    half = t975(2) * sd / math.sqrt(3)
    assert point["replicates"] == 3
    assert point["value"] == pytest.approx(mean)
    assert point["sd"] == pytest.approx(sd)
    assert (point["ci_low"], point["ci_high"]) == (pytest.approx(mean - half),
                                                   pytest.approx(mean + half))  # fmt: skip
    assert point["run_id"] == answers[-1]["id"]
    # Every run and its result is still stored and listed as posted.
    assert MetricResult.objects.count() == 3
    for answer, value in zip(answers, values, strict=True):
        run = api.get(f"/api/v1/runs/{answer['id']}/").json()
        assert run["metrics"][0]["value"] == value and run["seed"] == answer["seed"]


@pytest.mark.django_db
def test_runs_without_seeds_or_with_one_seed_are_points_as_before(api, post_run):
    for hour, seed in enumerate([None, None, 7, 7]):
        body = seed_body("1.0", seed, 0.9 + hour / 100, hour=hour)
        assert post_run(body).status_code == 201

    listed = points(api)
    assert [p["value"] for p in listed] == [0.9, 0.91, 0.92, 0.93]
    assert all(p["replicates"] == 1 and p["sd"] is None for p in listed)
    assert not ReplicateSet.objects.exists() and not Series.objects.get().replicated


@pytest.mark.django_db
def test_a_seed_run_again_replaces_its_earlier_result_in_the_set(api, post_run):
    post_seeds(post_run, "1.0", [0.90, 0.92])
    again = seed_body("1.0", 100, 0.94, hour=1)  # seed 100 once more, no idempotency key
    assert post_run(again).status_code == 201

    (point,) = points(api)
    assert point["replicates"] == 2
    assert point["value"] == pytest.approx((0.94 + 0.92) / 2)
    assert EvaluationRun.objects.count() == 3


@pytest.mark.django_db
def test_the_same_seed_replayed_with_its_external_id_is_a_replay(api, post_run):
    first = post_run(seed_body("1.0", 1, 0.90, external_id="ci-1"))
    second = post_run(seed_body("1.0", 2, 0.92, external_id="ci-2"))
    replay = post_run(seed_body("1.0", 2, 0.92, external_id="ci-2"))
    changed = post_run(seed_body("1.0", 2, 0.99, external_id="ci-2"))

    assert (first.status_code, second.status_code) == (201, 201)
    assert replay.status_code == 200 and replay.json()["id"] == second.json()["id"]
    assert changed.status_code == 409
    (point,) = points(api)
    assert point["replicates"] == 2 and point["value"] == pytest.approx(0.91)


@pytest.mark.django_db
def test_versions_around_a_replicate_set_keep_their_places(api, post_run):
    post_seeds(post_run, "1.0", [0.90], hour=0)
    post_seeds(post_run, "1.1", [0.91, 0.93, 0.92], hour=1)
    post_seeds(post_run, "1.2", [0.95], hour=2)

    listed = points(api)
    assert [(p["version"], p["replicates"]) for p in listed] == [("1.0", 1), ("1.1", 3), ("1.2", 1)]
    assert [p["version"] for p in points(api, limit=2)] == ["1.1", "1.2"]
    # The Python path (SQLite's) answers the same points.
    series = Series.objects.get()
    python = selectors.series_points(series=series)
    assert [(p["version"], p["replicates"]) for p in python] == [("1.0", 1), ("1.1", 3),
                                                                 ("1.2", 1)]  # fmt: skip
    assert python[1]["value"] == pytest.approx(listed[1]["value"])


@pytest.mark.django_db
def test_intervals_the_runs_carried_widen_the_seed_interval(api, post_run):
    for i, value in enumerate([0.90, 0.92, 0.91]):
        body = seed_body("1.0", i, value, ci_low=value - 0.02, ci_high=value + 0.02, n=1000)
        assert post_run(body).status_code == 201

    (point,) = points(api)
    seeds_half = t975(2) * statistics.stdev([0.90, 0.92, 0.91]) / math.sqrt(3)
    half = math.hypot(seeds_half, 0.02)
    assert point["ci_high"] - point["value"] == pytest.approx(half)
    assert point["n"] == 1000


def pin(api, version):
    baseline = {"dataset": "holdout", "version": version}
    response = api.put("/api/v1/models/ranker/baseline/", baseline, format="json")
    assert response.status_code == 200, response.json()


def welch_p(base, new):
    return scipy_stats.ttest_ind(base, new, equal_var=False, alternative="greater").pvalue


BASE = [0.90, 0.93, 0.91]


@pytest.mark.django_db
def test_a_drop_within_the_seed_noise_passes_a_welch_test(api, post_run):
    post_seeds(post_run, "1.0", BASE)
    pin(api, "1.0")
    within = [0.905, 0.915, 0.895]
    answers = post_seeds(post_run, "1.1", within, hour=1)

    (check,) = answers[-1]["gate"]["checks"]
    assert answers[-1]["gate"]["status"] == "passed"
    assert check["method"].startswith("Welch t-test, 3 vs 3 seeds")
    assert check["p_value"] == pytest.approx(welch_p(BASE, within), rel=1e-9)
    assert (check["replicates"], check["baseline_replicates"]) == (3, 3)
    assert check["value"] == pytest.approx(statistics.mean(within))
    assert check["baseline"] == pytest.approx(statistics.mean(BASE))
    assert check["sd"] == pytest.approx(statistics.stdev(within))
    assert check["baseline_sd"] == pytest.approx(statistics.stdev(BASE))
    assert "mean of 3 seeds ± " in check["message"]


@pytest.mark.django_db
def test_a_clear_drop_fails_a_welch_test_and_each_seed_rejudges_the_set(api, post_run):
    post_seeds(post_run, "1.0", BASE)
    pin(api, "1.0")
    dropped = [0.80, 0.815, 0.805]
    answers = post_seeds(post_run, "1.1", dropped, hour=1)

    first, second, third = (answer["gate"]["checks"][0] for answer in answers)
    # The first seed alone: one draw with the baseline's seed spread, on its k - 1 = 2 df.
    assert first["method"] == "Welch t-test, 1 vs 3 seeds, df=2"
    assert (first["replicates"], second["replicates"], third["replicates"]) == (1, 2, 3)
    assert second["value"] == pytest.approx(statistics.mean(dropped[:2]))
    assert third["p_value"] == pytest.approx(welch_p(BASE, dropped), rel=1e-9)
    assert third["status"] == "failed" and answers[-1]["gate"]["status"] == "failed"
    # Each run keeps the verdict its post answered.
    stored = EvaluationRun.objects.get(pk=answers[1]["id"]).gate_verdict["checks"][0]
    assert stored["replicates"] == 2


@pytest.mark.django_db
def test_single_runs_are_judged_by_the_tests_they_always_had(api, post_run):
    for version, value in (("1.0", 0.93), ("1.1", 0.90)):
        body = seed_body(version, None, value, n=10_000, hour=int(version[-1]))
        assert post_run(body).status_code == 201
        if version == "1.0":
            pin(api, "1.0")
    (check,) = EvaluationRun.objects.latest("id").gate_verdict["checks"]
    assert check["method"] == "two-proportion z-test" and check["replicates"] is None


def post_history(api, versions=10):
    """``versions`` versions of three seeds each (a single run for the odd ones out)."""
    runs = []
    for v in range(versions):
        seeds = [0.90 + 0.001 * v, 0.91 + 0.001 * v, 0.905 + 0.001 * v] if v % 4 else [0.9]
        for s, value in enumerate(seeds):
            runs.append(seed_body(f"1.{v}", s, value, hour=v, f1=0.8))
    response = api.post("/api/v1/runs/batch/", {"runs": runs}, format="json")
    assert response.status_code == 201, response.json()
    return runs


@pytest.mark.django_db
def test_the_analysis_reads_a_set_as_one_point_with_its_interval(api):
    post_history(api)
    series = Series.objects.get(metric__name="accuracy")

    (item,) = selectors.analysis_inputs(series_ids=[series.pk], points=200)
    assert item.versions == [f"1.{v}" for v in range(10)]
    third = [0.902, 0.912, 0.907]  # version 1.2's seeds
    half = t975(2) * statistics.stdev(third) / math.sqrt(3)
    mean = statistics.mean(third)
    assert item.values[2] == pytest.approx(mean)
    assert item.ci_low[2] == pytest.approx(mean - half)
    assert item.ci_high[2] == pytest.approx(mean + half)
    assert (item.ci_low[0], item.ci_high[0]) == (None, None)  # a single run: as posted
    pin(api, "1.2")  # a seeded pinned run stands for its set
    (item,) = selectors.analysis_inputs(series_ids=[series.pk], points=200)
    assert item.baseline == pytest.approx(mean)
    # And the job analyses it.
    outcome = series_analysis.analyse_series(series_ids=[series.pk])
    assert series.pk in outcome.analysed


@pytest.mark.django_db
def test_the_chart_shows_a_set_at_one_place_with_its_interval(api):
    post_history(api, versions=3)
    model = Series.objects.first().model
    (dataset,) = charts.dataset_choices(model=model)

    data = charts.model_charts(model=model, dataset=dataset)
    assert data["runs"]["version"] == ["1.0", "1.1", "1.2"]
    accuracy = next(m for m in data["metrics"] if m["name"] == "accuracy")["series"][0]
    seeds = [0.901, 0.911, 0.906]
    assert accuracy["replicates"][1] == 3 and math.isnan(accuracy["replicates"][0])
    assert accuracy["value"][1] == pytest.approx(statistics.mean(seeds))
    assert accuracy["sd"][1] == pytest.approx(statistics.stdev(seeds))
    half = t975(2) * statistics.stdev(seeds) / math.sqrt(3)
    assert accuracy["ci_high"][1] == pytest.approx(statistics.mean(seeds) + half)
    # The chart's last two places are the two sets.
    last = charts.model_charts(model=model, dataset=dataset, last=2)
    assert last["runs"]["version"] == ["1.1", "1.2"]


@pytest.mark.django_db
def test_the_run_page_lists_the_runs_replicate_siblings(api, member):
    post_history(api, versions=2)
    run = EvaluationRun.objects.filter(model_version__label="1.1").order_by("id")[1]

    page = member.get(f"/runs/{run.pk}/").content.decode()
    assert "Seed replicates" in page and "one of 3 seeded runs of version" in page
    for sibling in EvaluationRun.objects.filter(model_version__label="1.1").exclude(pk=run.pk):
        assert f'href="/runs/{sibling.pk}/"' in page
    lone = EvaluationRun.objects.get(model_version__label="1.0")
    assert "Seed replicates" not in member.get(f"/runs/{lone.pk}/").content.decode()


@pytest.mark.django_db
def test_a_full_set_of_seeds_costs_a_bounded_post(api, post_run, django_assert_max_num_queries):
    from evaluations.services.replicates import MAX_SEEDS

    extremes = [2**63 - 1, -(2**63) + 1, -1, 0]
    runs = [seed_body("1.0", seed, 0.9 + (i % 7) / 1000) for i, seed in enumerate(extremes)]
    runs += [seed_body("1.0", seed, 0.9 + (seed % 7) / 1000) for seed in range(1, MAX_SEEDS - 4)]
    assert api.post("/api/v1/runs/batch/", {"runs": runs}, format="json").status_code == 201

    began = time.perf_counter()
    with django_assert_max_num_queries(20):
        answer = post_run(seed_body("1.0", 5000, 0.95))
    assert time.perf_counter() - began < 5
    assert answer.status_code == 201
    (point,) = points(api)
    assert point["replicates"] == MAX_SEEDS
    assert math.isfinite(point["sd"]) and point["ci_low"] <= point["value"] <= point["ci_high"]
    page = api.get(f"/api/v1/runs/{answer.json()['id']}/").json()
    assert page["seed"] == 5000


@pytest.mark.django_db
def test_nan_and_seeds_beyond_64_bits_are_refused_as_before(api, post_run):
    nan = seed_body("1.0", 1, 0.9)
    nan["metrics"][0]["value"] = float("nan")
    raw = json.dumps(nan)  # NaN, as Python's json writes it
    response = api.post("/api/v1/runs/", raw, content_type="application/json")
    assert response.status_code == 400, response.json()
    assert post_run(seed_body("1.0", 2**63, 0.9)).status_code == 400
    assert not EvaluationRun.objects.exists()


@pytest.mark.django_db
def test_a_rule_change_judges_the_latest_seed_again_as_its_set(api, post_run):
    post_seeds(post_run, "1.0", BASE)
    pin(api, "1.0")
    answers = post_seeds(post_run, "1.1", [0.80, 0.815, 0.805], hour=1)
    rule = {"metric": "accuracy", "max_drop": 0.2, "significance": 0.05}
    assert api.post("/api/v1/models/ranker/thresholds/", rule, format="json").status_code == 201

    (check,) = EvaluationRun.objects.get(pk=answers[-1]["id"]).gate_verdict["checks"]
    assert check["rule"] == "max_drop" and check["status"] == "passed"
    assert (check["replicates"], check["baseline_replicates"]) == (3, 3)
    assert check["method"].startswith("Welch t-test")


@pytest.mark.django_db
def test_seeds_that_differ_only_beyond_a_floats_precision_are_still_two(api, post_run):
    for hour, seed in enumerate([2**63 - 1, 2**63 - 2]):
        assert post_run(seed_body("1.0", seed, 0.9 + hour / 100, hour=hour)).status_code == 201

    (point,) = points(api)
    assert point["replicates"] == 2
    model = Series.objects.get().model
    (dataset,) = charts.dataset_choices(model=model)
    data = charts.model_charts(model=model, dataset=dataset)
    assert data["runs"]["version"] == ["1.0"]
    assert data["metrics"][0]["series"][0]["replicates"] == [2]


@pytest.mark.django_db
def test_a_set_holds_at_most_max_seeds_and_one_more_is_refused_writing_nothing(api, post_run):
    """Each post of a seed reads its set's seeds: their number is bounded. The 101st distinct
    seed is refused by name (posted alone, in a batch or as a dry run); a seed of the set run
    again still replaces its result."""
    from evaluations.services.replicates import MAX_SEEDS

    bodies = [seed_body("1.0", seed, 0.9 + 0.001 * (seed % 5)) for seed in range(MAX_SEEDS)]
    response = api.post("/api/v1/runs/batch/", {"runs": bodies}, format="json")
    assert response.status_code == 201, response.json()
    (stored,) = ReplicateSet.objects.all()
    assert stored.replicates == MAX_SEEDS
    runs, results = EvaluationRun.objects.count(), MetricResult.objects.count()

    one_more = seed_body("1.0", MAX_SEEDS, 0.5)
    for answer in (
        post_run(one_more),
        post_run(one_more, QUERY_STRING="dry_run=1"),
        api.post("/api/v1/runs/batch/", {"runs": [one_more]}, format="json"),
    ):
        assert answer.status_code == 400, answer.json()
        (message,) = answer.json()["seed"]
        assert f"already has {MAX_SEEDS} seeds of accuracy (overall)" in message
        assert f"seed {MAX_SEEDS} cannot join it" in message
    assert (EvaluationRun.objects.count(), MetricResult.objects.count()) == (runs, results)
    assert ReplicateSet.objects.get().value == pytest.approx(stored.value)

    again = post_run(seed_body("1.0", 0, 0.5, hour=1))
    assert again.status_code == 201, again.json()
    assert ReplicateSet.objects.get().replicates == MAX_SEEDS
    assert post_run(seed_body("1.1", MAX_SEEDS, 0.5)).status_code == 201  # another version
