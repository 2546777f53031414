"""GET /api/v1/runs/: a page of runs built from rows and JSON the database writes answers
exactly what RunSerializer over ORM objects answered, byte for byte, on every filter and page;
in a number of queries that does not grow with runs or results."""

import itertools
import random
import struct
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework import generics
from rest_framework.test import APIRequestFactory

from evaluations import selectors
from evaluations.api import answers
from evaluations.api.serializers import RunSerializer
from evaluations.api.views import RunListCreateApi
from evaluations.models import EvaluationRun, MetricResult
from evaluations.selectors import run_results

RUNS = "/api/v1/runs/"
START = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)

# Floats whose text differs between orjson and PostgreSQL, or that sit at the edges.
ODD_FLOATS = (
    1e-05, 1.5e-07, 0.0001234, 1e15, 1e16, 1.2345678901234568e17, 1e20, 1e22, -0.0, 0.0, 100.0,
    5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, -1.7976931348623157e308,
    0.1 + 0.2, 1 / 3, 2.0**53, 123456789012.5, -42.0,
)  # fmt: skip
# Every ASCII character but NUL, in units (up to 32 characters, control characters allowed,
# leading and trailing spaces trimmed): to_json must escape them as orjson does.
ASCII = "".join(chr(code) for code in range(1, 128))
UNITS = [f"[{ASCII[i : i + 30]}]" for i in range(0, len(ASCII), 30)]
UNITS += ["ms", "µs", "€/req", "\u2028\u2029", "😀 per s", ""]


class SerializerRunList(RunListCreateApi):
    """The runs list as it was answered before: RunSerializer over ORM objects."""

    def get_queryset(self):
        return selectors.runs_for(project=self.request.auth.project)

    def list(self, request, *args, **kwargs):
        return generics.ListAPIView.list(self, request, *args, **kwargs)


def serializer_answer(path, token):
    request = APIRequestFactory().get(path, HTTP_AUTHORIZATION=f"Bearer {token}")
    response = SerializerRunList.as_view()(request)
    response.render()
    return response


def assert_same_answer(api, token, path):
    """The answer to ``path`` is the serializer's, read fresh and read again (its runs'
    results then come from the cache)."""
    for _ in range(2):
        answer = assert_same_bytes(api.get(path), serializer_answer(path, token), path)
    return answer


def assert_same_bytes(new, old, path):
    assert new.status_code == old.status_code, path
    # Field for field first, for a readable difference; then byte for byte.
    assert orjson.loads(new.content) == orjson.loads(old.content), path
    if new.content != old.content:
        at = next(
            (i for i, (a, b) in enumerate(zip(new.content, old.content, strict=False)) if a != b),
            min(len(new.content), len(old.content)),
        )
        around = slice(max(at - 200, 0), at + 80)
        pytest.fail(
            f"{path}: the answers differ from byte {at}:\n"
            f"new {new.content[around]!r}\nold {old.content[around]!r}"
        )
    return new


def metric(rng, name, slice_="overall", **extra):
    body = {"name": name, "slice": slice_, "value": round(rng.uniform(0, 1), rng.randint(1, 17))}
    return body | extra


@pytest.fixture
def varied(api):
    """Runs of three models with every kind of field: nulls, intervals, class counts,
    several slices, units, metadata, branches, environments, datasets with and without
    versions and sizes; some judged against a pinned baseline and rules, some not."""
    rng = random.Random(7)
    odd = itertools.cycle(ODD_FLOATS)

    def metrics(i):
        found = [
            metric(rng, "accuracy", n=10_000, ci_low=0.1, ci_high=0.95),
            metric(rng, "accuracy", "country=DE", n=2_400),
            metric(rng, "accuracy", "country=US"),
            metric(rng, "auc_roc", n=1_000, n_pos=100, n_neg=900),
            metric(rng, "auc_roc", "country=DE", n_pos=7, n_neg=3, ci_low=-0.0, ci_high=0.0),
            metric(rng, "latency_p95_ms", value=next(odd), unit="ms"),
            metric(rng, 'odd "name" \\ \u2028 ünï', "a=b&c", value=next(odd), kind="nlp"),
            {"name": "wide", "value": next(odd), "ci_low": -1.7976931348623157e308,
             "ci_high": 1.7976931348623157e308},
        ]  # fmt: skip
        found += [
            {"name": f"unit-{k}", "value": next(odd), "unit": unit} for k, unit in enumerate(UNITS)
        ]
        return found[: 1 + i % 8] + found[8:]

    def body(i, **extra):
        return {
            "model": "fraud-detector",
            "version": f"1.{i}.0",
            "commit": f"{i:040x}",
            "dataset": {"name": "holdout", "version": "2024-06", "size": 10_000},
            "finished_at": (START + timedelta(hours=i, microseconds=i * 137)).isoformat(),
            "metrics": metrics(i),
        } | extra

    def post(run):
        response = api.post(RUNS, run, format="json")
        assert response.status_code == 201, response.json()
        return response.json()["id"]

    ids = [post(body(0)), post(body(1, external_id="ci-1", seed=-(2**63)))]
    pinned = {"dataset": "holdout", "version": "1.0.0"}
    response = api.put("/api/v1/models/fraud-detector/baseline/", pinned, format="json")
    assert response.status_code == 200, response.json()
    rule = {"metric": "accuracy", "max_drop": 0.01}
    response = api.post("/api/v1/models/fraud-detector/thresholds/", rule, format="json")
    assert response.status_code == 201, response.json()
    ids += [
        post(body(2, seed=2**63 - 1, started_at=(START - timedelta(days=1)).isoformat(),
                  metadata={"ci_url": "https://ci.example.com/2", "b": [1, 2.5, None, True],
                            "a": {"nested": {"deep": "ünï \u2028 \"q\""}}, "aa": 1e-7,
                            "big": 2**63 - 1, "neg": -(2**63), "float": 1234.5678, "": {}})),
        post(body(3, branch="feature/x", external_id="ci-3", environment="canary")),
        post(body(4, branch="feature/x", base_branch="release/1", commit="")),
        post(body(5, dataset="live", finished_at=None, ci_url="https://ci.example.com/5")),
        post(body(6, model="churn model ünï", dataset={"name": "d&v=1", "version": "a b/c"},
                  environment="production")),
    ]  # fmt: skip
    batch = [body(7 + k, environment="shadow" if k % 3 == 0 else "offline") for k in range(12)]
    response = api.post("/api/v1/runs/batch/", {"runs": batch}, format="json")
    assert response.status_code == 201, response.json()
    ids += [run["id"] for run in response.json()["runs"]]
    # Rows stored without their points (loaded by other means, or before points were
    # stored): one run wholly, one in part. Python writes those runs.
    MetricResult.objects.filter(run_id=ids[2]).update(point=None)
    MetricResult.objects.filter(run_id=ids[9], series__slice="overall").update(point=None)
    # Results stored before they were copied in: -0.0 posted, 0 stored, -0.0 in the point.
    assert MetricResult.objects.filter(point__contains='"value":-0.0,').update(value=0.0)
    # Runs stored before verdicts were kept have none; the others were judged.
    EvaluationRun.objects.filter(pk__in=ids[:2]).update(gate_verdict=None)
    verdicts = EvaluationRun.objects.filter(pk__in=ids).values_list("gate_verdict", flat=True)
    assert {v and v["status"] for v in verdicts} >= {None, "no_baseline", "passed"}
    return ids


QUERIES = [
    "",
    "?environment=*",
    "?branch=*&environment=*&page_size=500",
    "?page_size=2",
    "?page_size=2&page=2",
    "?page_size=3&page=4&environment=*&branch=*",
    "?page=2",
    "?model=fraud-detector",
    "?model=fraud-detector&version=1.2.0",
    "?model=churn%20model%20%C3%BCn%C3%AF&environment=*",
    "?branch=feature/x&environment=*",
    "?branch=feature/x",
    "?environment=canary&branch=*",
    "?environment=shadow&page_size=1&page=3",
    "?dataset=holdout&dataset_version=2024-06&page_size=5",
    "?dataset=live",
    "?external_id=ci-3",
    "?external_id=ci-1&model=fraud-detector",
    "?model=nope",
    "?page_size=0",
    "?page_size=abc",
    "?page_size=100000",
    "?format=json&page_size=4",
    "?page=99",
    "?page=0",
    "?environment=staging",
]


@pytest.mark.parametrize("query", QUERIES)
def test_the_runs_list_answers_what_the_serializer_did(api, token, varied, query):
    assert_same_answer(api, token, RUNS + query)


def test_a_page_of_runs_cached_and_not_reads_as_the_serializer_writes_it(api, token, varied):
    assert_same_answer(api, token, f"{RUNS}?environment=*&page_size=3&page=2")

    # Runs 4 to 6 were read (and cached), the others not; among them a run with results
    # stored without points.
    assert_same_answer(api, token, f"{RUNS}?environment=*&page_size=12")


def test_every_run_reads_as_the_serializer_writes_it(api, project, varied):
    runs = list(selectors.runs_for(project=project))
    rows = selectors.run_rows(run_ids=[run.pk for run in runs])
    data = answers.run_list_data(rows, project=project)

    assert [row.id for row in rows] == [run.pk for run in runs]
    for new, run in zip(data, runs, strict=True):
        expected = RunSerializer(run).data
        assert orjson.loads(orjson.dumps(new)) == expected
        assert orjson.dumps(new) == orjson.dumps(expected, option=orjson.OPT_UTC_Z)


@pytest.mark.postgres
def test_the_database_writes_results_as_python_does(varied):
    written = run_results._results_json_from_sql(varied)
    in_python = run_results._results_json_in_python(varied)

    # Runs with a result stored without its point, or whose point holds -0.0 (stored as 0),
    # are left to Python.
    negative_zero = set(
        MetricResult.objects.filter(point__contains=":-0.0,").values_list("run_id", flat=True)
    )
    assert negative_zero
    assert set(written) == set(varied) - {varied[2], varied[9]} - negative_zero
    assert written == {run_id: in_python[run_id] for run_id in written}


def random_double(rng):
    """A finite double from random bits: every exponent, sign and mantissa."""
    while True:
        (value,) = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))
        if value == value and abs(value) != float("inf"):
            return value


def test_random_floats_read_back_as_the_serializer_writes_them(api, token):
    rng = random.Random(2026)
    runs = []
    for i in range(20):
        values = sorted(random_double(rng) for _ in range(2))
        exponent = rng.randint(-12, 22)
        runs.append({
            "model": "floats", "version": str(i), "dataset": "d",
            "metrics": [
                {"name": "bits", "value": random_double(rng), "ci_low": values[0],
                 "ci_high": values[1]},
                {"name": "decimal", "value": round(rng.uniform(-1, 1) * 10.0**exponent, 6)},
                {"name": "tiny", "value": rng.uniform(0, 1) * 10.0 ** -rng.randint(4, 9)},
            ],
        })  # fmt: skip
    assert api.post("/api/v1/runs/batch/", {"runs": runs}, format="json").status_code == 201

    page = assert_same_answer(api, token, f"{RUNS}?page_size=20").json()
    assert len(page["results"]) == 20


def page_queries(api, path):
    with CaptureQueriesContext(connection) as captured:
        response = api.get(path)
    assert response.status_code == 200
    return len(captured.captured_queries), response.json()


def runs_of(count, results, tag, start):
    return [
        {"model": "m", "version": f"{tag}-{i}", "dataset": "d",
         "finished_at": (start + timedelta(minutes=i)).isoformat(),
         "metrics": [{"name": f"metric-{k % 15}", "slice": f"slice-{k // 15}", "value": 0.5,
                      "n": 100, "ci_low": 0.4, "ci_high": 0.6} for k in range(results)]}
        for i in range(count)
    ]  # fmt: skip


def test_a_page_costs_the_same_queries_whatever_its_runs_and_results(
    api, django_assert_max_num_queries
):
    path = f"{RUNS}?model=m&page_size=100"
    api.post("/api/v1/runs/batch/", {"runs": runs_of(2, 2, "a", START)}, format="json")
    api.get(path)  # the token's last use is recorded once a minute
    cache.clear()
    small, answer = page_queries(api, path)
    assert len(answer["results"]) == 2

    big = runs_of(110, 60, "b", START + timedelta(days=1))
    assert api.post("/api/v1/runs/batch/", {"runs": big}, format="json").status_code == 201
    MetricResult.objects.filter(run__model_version__label="b-109").update(point=None)
    large, answer = page_queries(api, path)
    assert [len(run["metrics"]) for run in answer["results"]] == [60] * 100
    again, cached = page_queries(api, path)

    # Token, count, the page's ids, its runs, their results (and one more for the runs with
    # results stored without points, on PostgreSQL); read again, the results are cached.
    assert small == large - (connection.vendor == "postgresql") <= 6
    assert again == small - 1
    assert cached == answer
    cache.clear()
    with django_assert_max_num_queries(6):
        api.get(path)
