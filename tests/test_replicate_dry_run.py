"""A dry run of a seeded run is judged as the replicate set it would join (the version's stored
seeds on its series with this run, the latest run of each seed counting), exactly as the post
of the same body is judged, and writes nothing."""

import pytest

from evaluations.models import EvaluationRun, MetricResult, ReplicateSet, Series
from tests.test_replicates import BASE, pin, post_seeds, seed_body


def stored():
    """Everything a post would write or move."""
    return (
        list(EvaluationRun.objects.order_by("pk").values()),
        list(MetricResult.objects.order_by("pk").values()),
        list(ReplicateSet.objects.order_by("pk").values()),
        list(Series.objects.order_by("pk").values()),
    )


def dry_run(api, body):
    response = api.post("/api/v1/runs/?dry_run=1", body, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["dry_run"] is True
    return response.json()["gate"]


def judged_like_the_post(api, post_run, body):
    before = stored()
    verdict = dry_run(api, body)
    assert stored() == before  # nothing written
    posted = post_run(body)
    assert posted.status_code == 201, posted.json()
    assert verdict == posted.json()["gate"]
    return verdict


@pytest.fixture
def baseline(api, post_run):
    post_seeds(post_run, "1.0", BASE)
    pin(api, "1.0")


def test_a_dry_run_of_a_third_seed_is_judged_as_the_set_of_three(api, post_run, baseline):
    post_seeds(post_run, "1.1", [0.80, 0.815], hour=1)

    verdict = judged_like_the_post(api, post_run, seed_body("1.1", 102, 0.805, hour=2))

    (check,) = verdict["checks"]
    assert verdict["status"] == "failed" and check["status"] == "failed"
    assert (check["replicates"], check["baseline_replicates"]) == (3, 3)
    assert check["method"].startswith("Welch t-test, 3 vs 3 seeds")
    assert check["value"] == pytest.approx((0.80 + 0.815 + 0.805) / 3)


def test_a_dry_run_of_a_seed_run_again_replaces_its_earlier_result(api, post_run, baseline):
    post_seeds(post_run, "1.1", [0.80, 0.815], hour=1)  # seeds 100 and 101

    again = seed_body("1.1", 100, 0.91, hour=2, f1=0.7)  # seed 100 again, and a new metric
    verdict = judged_like_the_post(api, post_run, again)

    by_metric = {check["metric"]: check for check in verdict["checks"]}
    assert by_metric["accuracy"]["replicates"] == 2
    assert by_metric["accuracy"]["value"] == pytest.approx((0.91 + 0.815) / 2)


def test_a_dry_run_backfilled_before_its_seeds_stored_run_loses_to_it(api, post_run, baseline):
    post_seeds(post_run, "1.1", [0.80, 0.815], hour=5)

    older = seed_body("1.1", 100, 0.99, hour=1)  # seed 100, but older than its stored run
    verdict = judged_like_the_post(api, post_run, older)

    (check,) = verdict["checks"]
    assert check["replicates"] == 2
    assert check["value"] == pytest.approx((0.80 + 0.815) / 2)


def test_a_dry_run_of_a_first_seed_or_without_a_seed_is_the_run_alone(api, post_run, baseline):
    first = judged_like_the_post(api, post_run, seed_body("1.1", 7, 0.85, hour=1))
    plain = judged_like_the_post(api, post_run, seed_body("1.2", None, 0.85, hour=2))

    assert first["checks"][0]["replicates"] == plain["checks"][0]["replicates"] == 1
    assert first["checks"][0]["method"] == "Welch t-test, 1 vs 3 seeds, df=2"
