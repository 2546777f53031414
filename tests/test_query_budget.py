"""The hot paths kept cheap: the queries of a CI post gated against a baseline and of a series
read with nothing cached (each budget is today's count: a change that adds a query fails here
and says why in the budget it raises), and the post's answer, built without the serializer,
still the serializer's shape."""

import json
import random
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import JSONRenderer

from evaluations import selectors
from evaluations.api import serializers as api_serializers
from evaluations.api.answers import run_created_data
from evaluations.api.parsers import NonFinite
from evaluations.api.serializers import (
    MetricsField,
    RunCreatedSerializer,
    RunInputSerializer,
    _plain_metric,
    _plain_run,
    _reject_duplicates,
)
from evaluations.models import MetricResult, Series
from evaluations.selectors import series as series_selectors
from evaluations.services import gate, ingest

# The benchmark's single post (benchmarks/api.py): 20 results, 12 metrics over 5 slices.
METRICS = [
    *[{"name": name, "value": 0.9, "n": 10000} for name in (
        "accuracy", "balanced_accuracy", "precision", "recall", "f1", "auc_roc")],
    *[{"name": name, "value": 40.0} for name in (
        "auc_pr", "log_loss", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms",
        "throughput_rps")],
    *[{"name": name, "value": 0.9, "slice": slice_, "n": 3000} for name, slice_ in (
        ("accuracy", "mobile"), ("accuracy", "desktop"), ("f1", "mobile"), ("f1", "desktop"),
        ("precision", "new_users"), ("recall", "new_users"), ("auc_roc", "eu"),
        ("auc_roc", "us"))],
]  # fmt: skip
RULES = (
    {"metric": "accuracy", "max_drop": 0.01, "significance": 0.05, "budget": 0.03},
    {"metric": "f1", "max_drop_pct": 2},
    {"metric": "latency_p95_ms", "max": 120},
)


def body(version):
    return {
        "model": "bench-single",
        "version": version,
        "commit": "0" * 40,
        "branch": "main",
        "dataset": {"name": "holdout", "version": "2024-06", "size": 10_000},
        "metadata": {"runner": "tests"},
        "metrics": METRICS,
    }


@pytest.fixture
def gated(api):
    """bench-single with a pinned baseline and the benchmark's three rules."""
    for version in ("1.0", "1.1"):
        assert api.post("/api/v1/runs/", body(version), format="json").status_code == 201
    baseline = {"dataset": "holdout", "version": "1.0"}
    response = api.put("/api/v1/models/bench-single/baseline/", baseline, format="json")
    assert response.status_code == 200, response.json()
    for rule in RULES:
        response = api.post("/api/v1/models/bench-single/thresholds/", rule, format="json")
        assert response.status_code == 201, response.json()
    return api


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)  # rows are remembered once committed
def test_a_gated_post_of_twenty_metrics_costs_twelve_queries(gated, django_assert_max_num_queries):
    # In a burst of posts (CI posting a version's datasets and slices) the series are still
    # due for analysis: the post queues no job, as in the benchmark.
    Series.objects.update(dirty=True)
    # Token; BEGIN, version, run, results, series locked, series flags, COMMIT; the gate's
    # current pin and rules (the baseline's values are remembered, the marks read only if one
    # was made since a budget started); the series' open threshold breaches; the verdict
    # stored with the run (so that pages show it without judging again).
    with django_assert_max_num_queries(12):
        response = gated.post("/api/v1/runs/", body("1.2"), format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["gate"]["status"] == "passed"
    assert len(response.json()["metrics"]) == 20


def _reads_of_stored_results(queries):
    return [q["sql"] for q in queries if "WHERE r.run_id =" in q["sql"]]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)  # baselines are remembered once committed
def test_a_baseline_is_read_once_per_process_and_again_when_the_pin_moves(gated):
    def post(version, accuracy):
        values = [{**m, "value": accuracy} if m["name"] == "accuracy" else m for m in METRICS]
        Series.objects.update(dirty=True)  # no analysis job (which reads the baseline too)
        with CaptureQueriesContext(connection) as queries:
            response = gated.post("/api/v1/runs/", {**body(version), "metrics": values},
                                  format="json")  # fmt: skip
        assert response.status_code == 201, response.json()
        baselines = {(c["metric"], c["slice"], c["rule"]): c["baseline"]
                     for c in response.json()["gate"]["checks"]}  # fmt: skip
        return _reads_of_stored_results(queries.captured_queries), baselines

    # Setting the rules judged 1.1 again: 1.0's values are remembered since.
    first_reads, _ = post("1.2", 0.92)
    later_reads, baselines = post("1.3", 0.9)
    assert first_reads == later_reads == []
    assert baselines[("accuracy", "overall", "max_drop")] == 0.9  # 1.0's value
    selectors.forget_baseline_results()  # as in a process just started
    started_reads, _ = post("1.31", 0.9)
    assert len(started_reads) == 1

    response = gated.put("/api/v1/models/bench-single/baseline/",
                         {"dataset": "holdout", "version": "1.2"}, format="json")  # fmt: skip
    assert response.status_code == 200, response.json()
    moved_reads, baselines = post("1.4", 0.9)
    assert len(moved_reads) == 1
    assert baselines[("accuracy", "overall", "max_drop")] == 0.92  # 1.2's value, not 1.0's


@pytest.mark.postgres
def test_a_series_read_with_nothing_cached_costs_seven_queries(api, django_assert_max_num_queries):
    start = datetime(2026, 1, 1, tzinfo=UTC)
    runs = [
        {"model": "fraud-detector", "version": f"1.{i}", "dataset": "holdout",
         "finished_at": (start + timedelta(hours=i)).isoformat(),
         "metrics": [{"name": "accuracy", "value": 0.9, "n": 1000}]}
        for i in range(300)
    ]  # fmt: skip
    assert api.post("/api/v1/runs/batch/", {"runs": runs}, format="json").status_code == 201
    # Token, model, series, the stored points, the findings' count (none:
    # the list is not read), the missed marks (none: no coverage to work out), marks.
    with django_assert_max_num_queries(7):
        response = api.get("/api/v1/models/fraud-detector/series/?metric=accuracy")

    assert response.status_code == 200
    assert len(response.json()["points"]) == 300


def plan_nodes(plan):
    yield plan
    for child in plan.get("Plans", ()):
        yield from plan_nodes(child)


@pytest.mark.postgres
def test_a_series_read_on_tables_not_yet_analysed_reads_the_series_once(api):
    # A test database's tables are never analysed, as a production one's are not in the
    # minute after a bulk load: the planner then takes every table for nearly empty.
    start = datetime(2026, 1, 1, tzinfo=UTC)
    runs = [
        {"model": "fraud-detector", "version": f"1.{i}", "dataset": "holdout",
         "finished_at": (start + timedelta(hours=i)).isoformat(), "metrics": {"accuracy": 0.9}}
        for i in range(400)
    ]  # fmt: skip
    assert api.post("/api/v1/runs/batch/", {"runs": runs}, format="json").status_code == 201
    series = Series.objects.get()
    with CaptureQueriesContext(connection) as captured:
        series_selectors._points_json_from_sql(series, None)
    (statement,) = [q["sql"] for q in captured.captured_queries]

    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}")
        ((plan,),) = cursor.fetchall()

    scans = [node for node in plan_nodes(plan[0]["Plan"])
             if node.get("Relation Name") == "evaluations_metricresult"
             or node.get("Index Name") == "result_history"]  # fmt: skip
    assert scans
    assert all(node["Actual Loops"] == 1 for node in scans), scans


def test_the_answer_to_a_post_is_the_run_created_serializers_shape(gated, project):
    payload = {
        **body("1.2"),
        "external_id": "ci-7",
        "seed": 7,
        "started_at": "2026-11-20T09:00:00+02:00",
        "finished_at": "2026-11-20T10:00:00.250000Z",
        "ci_url": "https://ci.example.com/7",
        "metrics": [
            {"name": "accuracy", "value": 1, "n": 10000, "ci_low": 0.8, "ci_high": 1},
            {"name": "f1", "value": 0.5},  # fails its max_drop_pct rule
            {"name": "latency_p95_ms", "value": 130.5, "slice": "eu"},  # above its max
        ],
    }
    serializer = RunInputSerializer(data=payload)
    serializer.is_valid(raise_exception=True)
    fresh = ingest.ingest_run(project=project, payload=serializer.validated_data).run
    replayed = ingest.ingest_run(project=project, payload=serializer.validated_data).run

    for run in (fresh, replayed):
        # The verdict as posts answer and store it.
        run.gate_result = gate.verdict_data(gate.evaluate_gate(run=run), base_branch="main")
        assert run_created_data(run) == RunCreatedSerializer(run).data
    assert {c["status"] for c in run_created_data(fresh)["gate"]["checks"]} >= {"failed", "passed"}
    answer = gated.post("/api/v1/runs/", payload, format="json")
    assert answer.status_code == 200
    assert answer.json() == json.loads(JSONRenderer().render(RunCreatedSerializer(replayed).data))


# (plain values, other values) of each key: mostly plain, so that both paths are exercised.
NAMES = (["accuracy", "a" * 200, "ünï", "country=DE"],
         ["a" * 201, "", " acc", "acc ", "acc\x00", "tab\tname", "zero\u200bwidth", "\ud800", 5,
          2.5, None, True])  # fmt: skip
NUMBERS = ([0.5, 1, 0, -3, 2**53, 1e308, -0.0],
           [2**53 + 1, 10**400, -(10**400), float("inf"), NonFinite("NaN"), True, None, "0.5",
            [], {}])  # fmt: skip
COUNTS = ([None, 1, 10000, 10**12], [0, -1, 5.0, True, "5", 10**12 + 1, 2**63 - 1, 2**63, 2**70])
MISSING = object()


def pick(rng, pools):
    plain, other = pools
    return rng.choice(plain if rng.random() < 0.85 else other)


def random_metric(rng):
    metric = {"name": pick(rng, NAMES), "value": pick(rng, NUMBERS)}
    for key, pools in (("slice", NAMES), ("n", COUNTS), ("ci_low", NUMBERS), ("ci_high", NUMBERS)):
        if rng.random() < 0.5:
            metric[key] = pick(rng, pools)
    if rng.random() < 0.05:
        metric[rng.choice(["direction", "unit", "outcomes", "other"])] = "lower_is_better"
    if rng.random() < 0.05:
        del metric[rng.choice(["name", "value"])]
    return metric if rng.random() > 0.02 else rng.choice([[], "accuracy", None])


def validated(validate, items):
    try:
        return validate(items)
    except ValidationError as exc:
        return ("error", exc.detail)


def test_plain_metrics_are_validated_as_the_serializer_validates_them():
    rng = random.Random(7)
    cases = [[random_metric(rng)] for _ in range(3000)]
    cases.append([{"name": "accuracy", "value": 0.9, "slice": "eu", "n": 10,
                   "ci_low": 0.8, "ci_high": 1}])  # fmt: skip
    plain = 0
    for items in cases:
        fast = validated(MetricsField().to_internal_value, items)
        full = validated(lambda items: MetricsField._validated(items, items), items)
        assert fast == full, items
        if isinstance(fast, list):  # the same values, of the same types, in the same order
            assert [(k, type(v)) for k, v in fast[0].items()] == [
                (k, type(v)) for k, v in full[0].items()
            ], items
        plain += _plain_metric(items[0]) is not None
    assert plain > 300, plain  # the fast path was taken often enough to count


def _fully_validated(data, items):
    metrics = MetricsField._validated(data, items)
    _reject_duplicates(metrics)
    return metrics


def test_shorthand_metrics_are_validated_as_the_serializer_validates_them():
    rng = random.Random(11)
    names = [name for name in NAMES[0] + NAMES[1] if isinstance(name, str)]
    for _ in range(2000):
        data = {rng.choice(names): pick(rng, NUMBERS) for _ in range(rng.randint(1, 3))}
        items = [{"name": name, "value": value} for name, value in data.items()]
        fast = validated(MetricsField().to_internal_value, data)
        full = validated(lambda items, data=data: _fully_validated(data, items), items)
        assert fast == full, data
        if isinstance(fast, tuple):  # an error the API's renderer can write (as UTF-8)
            assert JSONRenderer().render(fast[1]), data


TIMES = (["2026-11-20T10:00:00Z", "2026-11-20T10:00:00.250000+02:00", None],
         ["2026-11-20", "yesterday", "", 5, "2026-13-01T00:00:00Z",
          "2026-11-20T10:00:00"])  # fmt: skip
DATASETS = (["holdout", {"name": "holdout"}, {"name": "holdout", "version": "2024-06"},
             {"name": "h", "version": "", "size": 10}, {"name": "h", "size": None}],
            [{"version": "1"}, {"name": "h", "size": 0}, {"name": "h", "size": True},
             {"name": "h", "other": 1}, {"name": "h", "version": " v"}, {"name": "h", "version": 2},
             5, None, ["holdout"], {"name": "h", "size": 10**12 + 1}])  # fmt: skip
METADATA = ([{}, {"runner": "ci", "shard": 3}, {"a": {"b": [1, 2.5, None, True]}}],
            [None, [], "x", {"deep": {"er": {"est": 1}}}, {"big": 2**64}, {"nul": "a\x00"},
             {"nan": NonFinite("NaN")}])  # fmt: skip
SEEDS = ([None, 0, 7, -(2**63), 2**63 - 1], [2**63, -(2**63) - 1, 1.0, True, "7"])
ENVIRONMENTS = (["offline", "shadow", "canary", "production"], ["", "Offline", None, 3])


def random_run(rng):
    if rng.random() < 0.4:  # every field plain
        pick_ = lambda rng, pools: rng.choice(pools[0])  # noqa: E731
        metrics = [{"name": f"m{i}", "value": rng.random(), "n": 10} for i in range(3)]
    else:
        pick_ = pick
        metrics = [random_metric(rng) for _ in range(rng.randint(0, 3))]
    run = {"model": pick_(rng, NAMES), "version": pick_(rng, NAMES),
           "dataset": pick_(rng, DATASETS), "metrics": metrics}  # fmt: skip
    if rng.random() < 0.1:
        run["model"] = rng.choice(["a/b", "m/"])
    for key, pools in (("commit", NAMES), ("branch", NAMES), ("base_branch", NAMES),
                       ("external_id", NAMES), ("seed", SEEDS), ("started_at", TIMES),
                       ("finished_at", TIMES), ("metadata", METADATA),
                       ("environment", ENVIRONMENTS)):  # fmt: skip
        if rng.random() < 0.4:
            run[key] = pick_(rng, pools)
    if rng.random() < 0.1:
        run[rng.choice(["commit", "branch", "base_branch"])] = ""
    if rng.random() < 0.05:
        run["ci_url"] = rng.choice(["https://ci.example.com/1", "", "not a url"])
    if rng.random() < 0.05:
        run["metadata"] = {"ci_url": rng.choice(["https://ci.example.com/2", "nope"])}
    if rng.random() < 0.03:
        del run[rng.choice(["model", "version", "dataset", "metrics"])]
    if rng.random() < 0.03:
        run["unknown"] = 1
    return run if rng.random() > 0.02 else rng.choice([[], "run", None])


def test_plain_runs_are_validated_as_the_serializer_validates_them(monkeypatch):
    rng = random.Random(13)
    plain = 0
    for _ in range(3000):
        data = random_run(rng)
        fast = validated(lambda data: RunInputSerializer().run_validation(data), data)
        with monkeypatch.context() as patch:
            patch.setattr(api_serializers, "_plain_run", lambda data: None)
            full = validated(lambda data: RunInputSerializer().run_validation(data), data)
        assert fast == full, data
        if not isinstance(fast, tuple):  # the same values, of the same types
            assert typed(dict(fast)) == typed(dict(full)), data
            assert ingest.payload_digest(fast) == ingest.payload_digest(full), data
        plain += _plain_run(data) is not None
    assert plain > 300, plain  # the fast path was taken often enough to count


def typed(value):
    """A parsed JSON value with the type of each number kept (1 and 1.0 differ)."""
    if isinstance(value, dict):
        return {key: typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [typed(item) for item in value]
    return (type(value).__name__, value)


@pytest.mark.postgres
def test_a_series_written_by_the_database_reads_as_the_python_path_writes_it(api):
    values = [1.0, 0.1, 1e-05, 123456789.0, 1e20, 5e-324, -2.5, 1 / 3, 0.0, 41.2]
    labels = ['v"1', "v\\2", "vé", "v\u2028", "1.0"]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    runs = [
        {"model": "fraud-detector", "version": f"{labels[i % len(labels)]}-{i}",
         "dataset": "holdout",
         "finished_at": (start + timedelta(hours=i, microseconds=250_000 * (i % 2))).isoformat(),
         "metrics": [{"name": "accuracy", "value": value,
                      **({"n": 10 + i, "ci_low": value - 1, "ci_high": value + 1.0}
                         if i % 3 else {})}]}
        for i, value in enumerate(values)
    ]  # fmt: skip
    response = api.post("/api/v1/runs/batch/", {"runs": runs}, format="json")
    assert response.status_code == 201
    runs_stored = response.json()["runs"]
    series = Series.objects.get()

    # The points ingestion stored, and those PostgreSQL writes for rows stored without one.
    stored_without = MetricResult.objects.filter(run_id__in=[r["id"] for r in runs_stored[::2]])
    assert stored_without.update(point=None) == 5
    for limit in (None, 3):
        from_sql = series_selectors._points_json_from_sql(series, limit)
        points = series_selectors.series_points(series=series, limit=limit)
        assert typed(orjson.loads(from_sql.payload)) == typed(orjson.loads(orjson.dumps(
            points, option=orjson.OPT_UTC_Z)))  # fmt: skip
        assert from_sql.count == len(points)
        assert from_sql.last == (points[-1]["at"], points[-1]["run_id"])
    body = api.get("/api/v1/models/fraud-detector/series/?metric=accuracy").json()
    assert [p["value"] for p in body["points"]] == values
    assert body["points"][1]["at"] == "2026-01-01T01:00:00.250000Z"
