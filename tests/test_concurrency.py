"""Concurrent posts against real PostgreSQL: no duplicate rows, no 500s."""

import statistics
import threading

import pytest
from django.db import connections

from evaluations.models import (
    EvaluationRun,
    MetricDefinition,
    ModelVersion,
    RegisteredModel,
    ReplicateSet,
    Series,
)
from evaluations.services import projects, removal
from tests.conftest import client_for

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def post_concurrently(secret, bodies):
    barrier = threading.Barrier(len(bodies))
    statuses = [None] * len(bodies)

    def post(index):
        try:
            client = client_for(secret)
            barrier.wait(timeout=30)
            statuses[index] = client.post("/api/v1/runs/", bodies[index], format="json")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return statuses


@pytest.fixture
def secret():
    project, _ = projects.ensure_project(name="acme")
    return projects.create_token(project=project, scope="admin")[1]


def test_16_concurrent_posts_create_a_new_model_and_version_once(secret):
    bodies = [
        {"model": "brand-new", "version": "0.1.0", "dataset": {"name": "holdout", "size": 100},
         "metrics": [{"name": "accuracy", "value": 0.9 + i / 1000}, {"name": f"extra_{i % 3}",
                     "value": 1}]}
        for i in range(16)
    ]  # fmt: skip

    responses = post_concurrently(secret, bodies)

    assert [r.status_code for r in responses] == [201] * 16, [r.content for r in responses]
    assert RegisteredModel.objects.count() == 1
    assert ModelVersion.objects.count() == 1
    assert EvaluationRun.objects.count() == 16
    assert MetricDefinition.objects.count() == 4


def test_concurrent_replays_of_one_external_id_store_one_run(secret):
    body = {"model": "m", "version": "1", "dataset": "d", "external_id": "ci-42",
            "metrics": {"accuracy": 0.9}}  # fmt: skip

    responses = post_concurrently(secret, [body] * 8)

    codes = sorted(r.status_code for r in responses)
    assert codes == [200] * 7 + [201], [r.content for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert EvaluationRun.objects.count() == 1


def test_concurrent_failing_posts_open_one_threshold_finding(secret):
    from evaluations.models import Finding

    body = {"model": "m", "version": "0", "dataset": "d", "metrics": {"accuracy": 0.95}}
    post_concurrently(secret, [body])
    client = client_for(secret)
    client.post("/api/v1/models/m/thresholds/", {"metric": "accuracy", "min": 0.9}, format="json")
    failing = [{**body, "version": str(i), "metrics": {"accuracy": 0.5}} for i in range(1, 9)]

    responses = post_concurrently(secret, failing)

    assert [r.status_code for r in responses] == [201] * 8, [r.content[:300] for r in responses]
    assert Finding.objects.filter(kind="threshold").count() == 1


def test_concurrent_posts_still_failing_several_checks_update_their_findings(secret):
    from evaluations.models import Finding

    metrics = {f"score_{i}": 0.95 for i in range(6)}
    body = {"model": "m", "version": "0", "dataset": "d", "metrics": metrics}
    post_concurrently(secret, [body])
    client = client_for(secret)
    for name in metrics:
        client.post("/api/v1/models/m/thresholds/", {"metric": name, "min": 0.9}, format="json")
    failing = {name: 0.5 for name in metrics}
    post_concurrently(secret, [{**body, "version": "1", "metrics": failing}])

    responses = post_concurrently(
        secret, [{**body, "version": str(i), "metrics": failing} for i in range(2, 14)]
    )

    assert [r.status_code for r in responses] == [201] * 12, [r.content[:300] for r in responses]
    assert Finding.objects.filter(kind="threshold", status="open").count() == 6


def seed_run(version, seed, value):
    return {"model": "seeded", "version": version, "dataset": {"name": "holdout", "version": "1"},
            "seed": seed, "metrics": [{"name": "accuracy", "value": value},
                                      {"name": "f1", "value": value - 0.1}]}  # fmt: skip


def test_concurrent_seeds_of_a_version_make_one_set_of_them_all(secret):
    """Each seed's post summarises the set with the seeds committed before it, its series
    locked: however they interleave, the set ends with every seed, none lost to a race."""
    values = [0.80 + i / 100 for i in range(12)]
    responses = post_concurrently(secret, [seed_run("1.0", i, v) for i, v in enumerate(values)])

    assert [r.status_code for r in responses] == [201] * 12, [r.content for r in responses]
    sets = {s.series.metric.name: s for s in ReplicateSet.objects.select_related("series__metric")}
    assert set(sets) == {"accuracy", "f1"}
    assert sets["accuracy"].replicates == 12
    assert sets["accuracy"].value == pytest.approx(statistics.mean(values))
    assert sets["accuracy"].sd == pytest.approx(statistics.stdev(values))
    assert sets["f1"].value == pytest.approx(statistics.mean(values) - 0.1)


def remove_while_posting(secret, run_ids, bodies):
    """Delete ``run_ids`` (as the admin does) while ``bodies`` are posted, all at once; the
    posts' answers."""
    barrier = threading.Barrier(2)

    def remove():
        try:
            barrier.wait(timeout=30)
            removal.delete_runs(run_ids=run_ids)
        finally:
            connections.close_all()

    remover = threading.Thread(target=remove)
    remover.start()
    barrier.wait(timeout=30)
    answers = post_concurrently(secret, bodies)
    remover.join(timeout=60)
    return answers


def test_seeds_posted_while_others_are_removed_leave_a_true_set(secret):
    """Removing members (as the admin and prune do) and posting new seeds at once: the set
    ends summarising exactly the seeds still stored."""
    first = post_concurrently(secret, [seed_run("1.0", i, 0.8 + i / 100) for i in range(6)])
    assert [r.status_code for r in first] == [201] * 6
    doomed = list(EvaluationRun.objects.filter(seed__in=[0, 2, 4]).values_list("pk", flat=True))

    late = remove_while_posting(
        secret, doomed, [seed_run("1.0", 10 + i, 0.9 + i / 100) for i in range(4)]
    )

    assert [r.status_code for r in late] == [201] * 4
    stored = list(
        EvaluationRun.objects.filter(model_version__label="1.0").values_list("seed", flat=True)
    )
    assert sorted(stored) == [1, 3, 5, 10, 11, 12, 13]
    accuracy = ReplicateSet.objects.get(series__metric__name="accuracy")
    kept = [0.8 + i / 100 for i in (1, 3, 5)] + [0.9 + i / 100 for i in range(4)]
    assert accuracy.replicates == 7
    assert accuracy.value == pytest.approx(statistics.mean(kept))
    assert accuracy.sd == pytest.approx(statistics.stdev(kept))


def replicated_flags():
    return list(Series.objects.filter(model__name="seeded").values_list("replicated", flat=True))


def test_a_set_emptied_while_a_seed_is_posted_leaves_the_series_replicated(secret):
    """A set of two loses a seed (and would leave its series without sets) while a third seed
    is posted: whichever commits first, the set ends of the two seeds stored and its series
    still read as replicated; once every set is gone, it is not."""
    for round in range(5):
        version = f"2.{round}"
        pair = [seed_run(version, 0, 0.80), seed_run(version, 1, 0.82)]
        assert [r.status_code for r in post_concurrently(secret, pair)] == [201, 201]
        runs = EvaluationRun.objects.filter(model_version__label=version)

        (late,) = remove_while_posting(secret, [runs.get(seed=0).pk], [seed_run(version, 2, 0.86)])

        assert late.status_code == 201, late.content
        sets = ReplicateSet.objects.filter(model_version__label=version)
        means = {row.series.metric.name: (row.replicates, row.value) for row in sets}
        assert means == {"accuracy": (2, pytest.approx(0.84)), "f1": (2, pytest.approx(0.74))}
        assert replicated_flags() == [True, True]
        removal.delete_runs(run_ids=[runs.get(seed=2).pk])
        assert replicated_flags() == [False, False]
