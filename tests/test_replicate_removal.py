"""Removing seed replicates: a run deleted (in the admin) or pruned takes its seed out of its
replicate sets in the same transaction. A set of two or more seeds left is summarised again
from them, at the time of its latest member left; a set left with one seed is gone, and that
run is a point of its own again. The series API answers the same whether or not it had cached
the points before, and the series is due for trend analysis again."""

import io
import math
import statistics
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.management import call_command

from evaluations.models import EvaluationRun, ModelVersion, ReplicateSet, Series
from evaluations.services import series_analysis
from tests.test_replicates import START, points, post_seeds, seed_body, t975

VALUES = [0.90, 0.93, 0.91]  # seeds 100, 101 and 102 of 1.0, an hour apart: 102 is the latest


@pytest.fixture
def seeds(post_run):
    """A single run of 0.9 first, then three seeds of 1.0; their run ids, oldest first."""
    assert post_run(seed_body("0.9", None, 0.85)).status_code == 201
    ids = []
    for i, value in enumerate(VALUES):
        response = post_run(seed_body("1.0", 100 + i, value, hour=1 + i))
        assert response.status_code == 201, response.json()
        ids.append(response.json()["id"])
    return ids


def delete_in_admin(admin_client, *run_ids):
    """The admin's "delete selected runs" action, confirmed."""
    response = admin_client.post(
        "/admin/evaluations/evaluationrun/",
        {"action": "delete_selected", "_selected_action": list(run_ids), "post": "yes"},
    )
    assert response.status_code == 302, response.content
    assert not EvaluationRun.objects.filter(pk__in=run_ids).exists()


def series_answer(api):
    """The series' points as read now (perhaps from the cache), and as read afresh."""
    cached = points(api)
    cache.clear()
    assert points(api) == cached
    return cached


def assert_set_of(api, values, run_id):
    single, point = series_answer(api)
    assert (single["version"], single["replicates"], single["value"]) == ("0.9", 1, 0.85)
    k, mean, sd = len(values), statistics.mean(values), statistics.stdev(values)
    half = t975(k - 1) * sd / math.sqrt(k)
    run = EvaluationRun.objects.get(pk=run_id)
    assert point == {
        "version": "1.0", "value": pytest.approx(mean), "n": None,
        "ci_low": pytest.approx(mean - half), "ci_high": pytest.approx(mean + half),
        "run_id": run_id, "at": run.recorded_at.isoformat().replace("+00:00", "Z"),
        "replicates": k, "sd": pytest.approx(sd),
    }  # fmt: skip
    stored = ReplicateSet.objects.get()
    assert (stored.run_id, stored.recorded_at, stored.replicates) == (run_id, run.recorded_at, k)


def test_deleting_a_seed_that_is_not_the_latest_summarises_the_set_again(
    api, seeds, admin_client, django_capture_on_commit_callbacks
):
    series = Series.objects.get()
    series_analysis.analyse_series(series_ids=[series.pk])
    analysed = Series.objects.get().analysis_count
    assert_set_of(api, VALUES, seeds[2])  # and cached

    with django_capture_on_commit_callbacks(execute=True):
        delete_in_admin(admin_client, seeds[0])

    assert_set_of(api, VALUES[1:], seeds[2])
    # Due again, and analysed (in-process here) like after any change of its history.
    assert Series.objects.get().analysis_count == analysed + 1


def test_deleting_the_latest_seed_keeps_the_set_of_the_other_two(api, seeds, admin_client):
    points(api)  # cached before

    delete_in_admin(admin_client, seeds[2])

    assert_set_of(api, VALUES[:2], seeds[1])
    series = Series.objects.get()
    assert series.dirty  # its analysis is due


def test_deleting_down_to_one_seed_makes_it_a_point_of_its_own_again(
    api, seeds, post_run, admin_client
):
    points(api)

    delete_in_admin(admin_client, seeds[0], seeds[2])

    assert not ReplicateSet.objects.exists()
    single, alone = series_answer(api)
    assert single["version"] == "0.9"
    assert (alone["version"], alone["run_id"], alone["value"]) == ("1.0", seeds[1], VALUES[1])
    assert (alone["replicates"], alone["sd"]) == (1, None)
    assert not Series.objects.get().replicated  # read as a series without seeds again

    # a later run is appended to what was cached, and a new seed makes a set again
    assert post_run(seed_body("1.1", None, 0.95, hour=9)).status_code == 201
    assert [p["version"] for p in series_answer(api)] == ["0.9", "1.0", "1.1"]
    post_seeds(post_run, "1.2", [0.96, 0.98], hour=10)
    assert Series.objects.get().replicated
    latest = series_answer(api)[-1]
    assert (latest["version"], latest["replicates"]) == ("1.2", 2)


def test_a_series_keeps_reading_its_sets_while_one_is_left(api, seeds, post_run, admin_client):
    post_run(seed_body("1.1", 1, 0.80, hour=8))
    post_run(seed_body("1.1", 2, 0.84, hour=9))

    delete_in_admin(admin_client, seeds[0], seeds[2])

    assert Series.objects.get().replicated
    assert [p["replicates"] for p in series_answer(api)] == [1, 1, 2]


def test_a_set_on_several_series_is_summarised_again_on_each(api, post_run, admin_client):
    ids = []
    for i, (accuracy, f1) in enumerate([(0.90, 0.80), (0.93, 0.84), (0.91, 0.83)]):
        answer = post_run(seed_body("1.0", i, accuracy, hour=i, f1=f1)).json()
        ids.append(answer["id"])

    delete_in_admin(admin_client, ids[1])

    (accuracy,) = points(api)
    (f1,) = points(api, metric="f1")
    assert (accuracy["replicates"], f1["replicates"]) == (2, 2)
    assert accuracy["value"] == pytest.approx(0.905) and f1["value"] == pytest.approx(0.815)
    assert accuracy["run_id"] == f1["run_id"] == ids[2]


def test_a_seed_posted_again_counts_once_more_when_its_later_run_is_deleted(
    api, post_run, admin_client
):
    first = post_run(seed_body("1.0", 1, 0.90, hour=0)).json()["id"]
    post_run(seed_body("1.0", 2, 0.92, hour=1))
    again = post_run(seed_body("1.0", 1, 0.96, hour=2)).json()["id"]  # seed 1 once more
    (point,) = points(api)
    assert point["value"] == pytest.approx(0.94) and point["run_id"] == again

    delete_in_admin(admin_client, again)

    (point,) = points(api)
    assert point["value"] == pytest.approx(0.91) and point["replicates"] == 2
    assert first in EvaluationRun.objects.values_list("pk", flat=True)


def prune(before, tmp_path):
    out = io.StringIO()
    call_command("prune", "--before", before.isoformat(), "--project", "acme",
                 "--out", str(tmp_path), "--execute", stdout=out, stderr=io.StringIO())  # fmt: skip
    return out.getvalue()


def test_pruning_a_seed_summarises_its_set_from_the_seeds_left(api, post_run, tmp_path):
    ids = []
    for i, value in enumerate(VALUES):
        days = 0 if i == 0 else 2  # the first seed ran two days before the others
        response = post_run(seed_body("1.0", 100 + i, value, hour=24 * days + i))
        ids.append(response.json()["id"])
    points(api)

    assert "Removed 1 run and" in prune(START + timedelta(days=1), tmp_path)

    (point,) = series_answer(api)
    assert point["replicates"] == 2 and point["run_id"] == ids[2]
    assert point["value"] == pytest.approx(statistics.mean(VALUES[1:]))
    assert point["sd"] == pytest.approx(statistics.stdev(VALUES[1:]))
    assert ReplicateSet.objects.get().replicates == 2


def test_pruning_all_seeds_but_one_leaves_it_a_point_of_its_own(api, post_run, tmp_path):
    for i, value in enumerate(VALUES):
        days = 2 if i == 2 else 0
        assert post_run(seed_body("1.0", 100 + i, value, hour=24 * days + i)).status_code == 201
    points(api)

    assert "Removed 2 runs and" in prune(START + timedelta(days=1), tmp_path)

    (point,) = series_answer(api)
    assert (point["value"], point["replicates"], point["sd"]) == (VALUES[2], 1, None)
    assert not ReplicateSet.objects.exists()


def test_a_version_or_a_model_deleted_takes_its_sets_with_it(api, seeds, admin_client):
    ModelVersion.objects.get(label="1.0").delete()
    assert not ReplicateSet.objects.exists()
    cache.clear()
    assert [p["version"] for p in points(api)] == ["0.9"]

    model = Series.objects.get().model
    response = admin_client.post(
        f"/admin/evaluations/registeredmodel/{model.pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 302
    assert not Series.objects.exists() and not EvaluationRun.objects.exists()
