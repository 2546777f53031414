"""The analysis job: a planted drift posted through the API opens one finding; flat noise none."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from evaluations.analysis.detect import HOLD
from evaluations.analysis.sensitivity import BALANCED, sensitivity
from evaluations.models import Finding, Series
from evaluations.services import series_analysis

START = datetime(2026, 1, 1, tzinfo=UTC)


def history(values, model="fraud-detector", metric="accuracy", n=None, start=0):
    return [
        {"model": model, "version": f"1.{start + i}",
         "dataset": {"name": "holdout", "version": "v1"},
         "finished_at": (START + timedelta(days=start + i)).isoformat(),
         "metrics": [{"name": metric, "value": float(v), **({"n": n} if n else {})}]}
        for i, v in enumerate(values)
    ]  # fmt: skip


def post_history(api, runs, capture):
    with capture(execute=True):
        response = api.post("/api/v1/runs/batch/", {"runs": runs}, format="json")
    assert response.status_code == 201, response.json()


def planted_drift(seed=3):
    rng = np.random.default_rng(seed)
    flat = 0.93 + rng.normal(0, 0.002, 30)
    drift = 0.93 - 0.0006 * np.arange(1, 21) + rng.normal(0, 0.002, 20)  # 6 sigma over 20
    return np.concatenate([flat, drift])


def test_a_planted_slow_drift_opens_one_finding(api, django_capture_on_commit_callbacks):
    post_history(api, history(planted_drift()), django_capture_on_commit_callbacks)

    (finding,) = Finding.objects.all()
    assert finding.kind == "drift"
    assert finding.status == "open"
    assert finding.magnitude < 0
    start = int(finding.start_version.label.split(".")[1])
    assert 25 <= start <= 35
    assert "accuracy" in finding.message
    body = api.get("/api/v1/findings/?status=open").json()
    assert body["count"] == 1
    series = api.get("/api/v1/models/fraud-detector/series/?metric=accuracy").json()
    assert [f["kind"] for f in series["findings"]] == ["drift"]
    assert series["trend"]["slope"] < 0
    assert series["trend"]["end_version"] == "1.49"


def test_analysing_the_same_evidence_again_keeps_one_finding(
    api, django_capture_on_commit_callbacks
):
    post_history(api, history(planted_drift()), django_capture_on_commit_callbacks)
    series = Series.objects.get()

    series_analysis.analyse_series(series_ids=[series.pk])
    series_analysis.analyse_series(series_ids=[series.pk])

    assert Finding.objects.count() == 1
    assert Series.objects.get().analysis_count >= 3


def test_a_flat_noisy_history_opens_nothing(api, django_capture_on_commit_callbacks):
    rng = np.random.default_rng(8)
    post_history(api, history(0.93 + rng.normal(0, 0.004, 80)), django_capture_on_commit_callbacks)

    assert Series.objects.get().analysis_count == 1
    assert not Finding.objects.exists()


def test_a_recovered_series_resolves_its_finding(api, django_capture_on_commit_callbacks):
    drift = planted_drift()
    post_history(api, history(drift), django_capture_on_commit_callbacks)
    assert Finding.objects.get().status == "open"
    rng = np.random.default_rng(4)
    recovery = 0.93 + rng.normal(0, 0.002, 40)

    post_history(api, history(recovery, start=len(drift)), django_capture_on_commit_callbacks)

    assert Finding.objects.get().status == "resolved"


def weakened_drop(drop):
    """48 versions at 0.93 (noise 0.002) whose last 8 fell by ``drop``: 0.001 is a fall the
    balanced setting is about 4% sure of (between its alpha and detect.HOLD times it), 0.0005
    one it is about 18% sure of (beyond)."""
    values = 0.93 + np.random.default_rng(1).normal(0, 0.002, 48)
    values[40:] -= drop
    return values


@pytest.mark.parametrize(("drop", "held"), [(0.001, True), (0.0005, False)])
def test_an_open_fall_is_held_until_its_evidence_is_well_past_alpha(
    api, django_capture_on_commit_callbacks, drop, held
):
    # Too weak to open a finding, but a fall already found (an open finding, as the previous
    # judgement left it) is held while its p-value stays within HOLD times alpha, so that it
    # does not close and open again, with an alert each time, as the p-value wanders.
    post_history(api, history(weakened_drop(drop)), django_capture_on_commit_callbacks)
    assert not Finding.objects.exists()
    series = Series.objects.get()
    found = Finding.objects.create(series=series, kind="step", magnitude=-0.003, message="m")

    series_analysis.analyse_series(series_ids=[series.pk])

    found.refresh_from_db()
    assert Finding.objects.count() == 1
    if held:
        assert found.status == "open"
        alpha = sensitivity(BALANCED).alpha
        assert alpha < found.p_value <= HOLD * alpha and found.magnitude > -0.002
    else:
        assert found.status == "resolved"


@pytest.mark.parametrize("marked", [False, True])
def test_an_intended_change_starts_a_new_segment(api, django_capture_on_commit_callbacks, marked):
    rng = np.random.default_rng(5)
    before = 0.93 + rng.normal(0, 0.002, 30)
    post_history(api, history(before), django_capture_on_commit_callbacks)
    after = history(0.90 + rng.normal(0, 0.002, 30), start=30)
    if marked:
        api.post("/api/v1/runs/", after[0], format="json")
        api.post("/api/v1/models/fraud-detector/marks/",
                 {"version": "1.30", "note": "expected: new tokenizer"}, format="json")  # fmt: skip
        after = after[1:]

    post_history(api, after, django_capture_on_commit_callbacks)

    kinds = set(Finding.objects.values_list("kind", flat=True))
    assert kinds == (set() if marked else {"step"})
