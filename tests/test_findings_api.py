"""Findings: stored once per ongoing degradation, triaged by people, with alert precision."""

import pytest

from evaluations.models import Finding, ModelVersion, Series
from evaluations.services import findings


@pytest.fixture
def series(post_run, run_body):
    post_run(run_body)
    return Series.objects.get(metric__name="accuracy")


def detected(kind="drift", magnitude=0.018, message="accuracy has drifted down"):
    version = ModelVersion.objects.first()
    return findings.Detected(
        kind=kind, start_version_id=version.pk, end_version_id=version.pk,
        magnitude=magnitude, relative_magnitude=magnitude / 0.93, slope=-0.002, p_value=0.001,
        confidence=0.999, forecast_versions=6.0, message=message,
    )  # fmt: skip


def test_the_same_evidence_twice_updates_one_finding(series):
    first = findings.record_findings(series=series, detected=[detected()])
    second = findings.record_findings(series=series, detected=[detected(magnitude=0.02)])

    assert len(first.opened) == 1
    assert (second.opened, len(second.updated)) == ([], 1)
    finding = Finding.objects.get()
    assert finding.magnitude == 0.02
    assert finding.status == "open"
    assert finding.last_seen_at >= finding.first_seen_at


def test_a_recovered_series_resolves_its_finding(series):
    findings.record_findings(series=series, detected=[detected(), detected(kind="baseline_drop")])

    result = findings.record_findings(series=series, detected=[detected(kind="baseline_drop")])

    assert [f.kind for f in result.resolved] == ["drift"]
    assert dict(Finding.objects.values_list("kind", "status")) == {
        "drift": "resolved",
        "baseline_drop": "open",
    }


def test_a_degradation_after_a_resolved_one_opens_a_new_finding(series):
    findings.record_findings(series=series, detected=[detected()])
    findings.record_findings(series=series, detected=[])

    findings.record_findings(series=series, detected=[detected()])

    assert sorted(Finding.objects.values_list("status", flat=True)) == ["open", "resolved"]


def test_list_and_filter_findings(api, series):
    findings.record_findings(series=series, detected=[detected()])

    body = api.get("/api/v1/findings/?model=fraud-detector&status=open").json()

    assert body["count"] == 1
    (item,) = body["results"]
    assert (item["metric"], item["dataset"], item["slice"], item["kind"]) == (
        "accuracy", "holdout", "overall", "drift",
    )  # fmt: skip
    assert item["start_version"] == "1.4.0"
    assert item["message"] == "accuracy has drifted down"
    assert api.get("/api/v1/findings/?status=resolved").json()["count"] == 0
    assert api.get("/api/v1/findings/?status=bogus").status_code == 400


def test_triage_acknowledge_then_resolve(api, series):
    findings.record_findings(series=series, detected=[detected()])
    finding_id = Finding.objects.get().pk

    acknowledged = api.post(
        f"/api/v1/findings/{finding_id}/acknowledge/", {"note": "on it"}, format="json"
    )
    resolved = api.post(f"/api/v1/findings/{finding_id}/resolve/", format="json")

    assert acknowledged.status_code == 200
    assert acknowledged.json()["status"] == "acknowledged"
    assert acknowledged.json()["triage_note"] == "on it"
    assert acknowledged.json()["triaged_by"].startswith("token mt_")
    assert resolved.json()["status"] == "resolved"
    again = api.post(f"/api/v1/findings/{finding_id}/acknowledge/", format="json")
    assert again.status_code == 400
    assert "status" in again.json()


def test_an_acknowledged_drift_that_goes_on_stays_acknowledged(api, series):
    findings.record_findings(series=series, detected=[detected()])
    api.post(f"/api/v1/findings/{Finding.objects.get().pk}/acknowledge/", format="json")

    findings.record_findings(series=series, detected=[detected(magnitude=0.03)])

    finding = Finding.objects.get()
    assert (finding.status, finding.magnitude) == ("acknowledged", 0.03)


def test_false_alarms_are_kept_and_count_in_the_precision(api, series):
    findings.record_findings(series=series, detected=[detected(), detected(kind="baseline_drop")])
    step, drift = Finding.objects.order_by("kind")  # baseline_drop, drift
    api.post(f"/api/v1/findings/{drift.pk}/acknowledge/", format="json")
    api.post(
        f"/api/v1/findings/{step.pk}/false_alarm/", {"note": "retrained on new data"}, format="json"
    )
    findings.record_findings(series=series, detected=[detected(kind="baseline_drop")])

    precision = api.get("/api/v1/findings/precision/").json()

    assert Finding.objects.get(pk=step.pk).status == "false_alarm"
    assert precision == {
        "total": 3, "judged": 2, "real": 1, "false_alarms": 1, "precision": 0.5,
        "missed": 0, "missed_covered": 0, "recall": 1.0,
    }  # fmt: skip
    assert api.get("/api/v1/findings/precision/?model=other").json()["precision"] is None


def test_another_projects_findings_are_not_found(api, other_api, series):
    findings.record_findings(series=series, detected=[detected()])
    finding_id = Finding.objects.get().pk

    assert other_api.get("/api/v1/findings/").json()["count"] == 0
    assert (
        other_api.post(f"/api/v1/findings/{finding_id}/acknowledge/", format="json").status_code
        == 404
    )
    assert Finding.objects.get().status == "open"


def test_marking_an_intended_change(api, series):
    path = "/api/v1/models/fraud-detector/marks/"

    created = api.post(path, {"version": "1.4.0", "note": "expected: new tokenizer"}, format="json")
    twice = api.post(path, {"version": "1.4.0", "note": "again"}, format="json")
    unknown = api.post(path, {"version": "9.9", "note": "x"}, format="json")

    assert created.status_code == 201, created.json()
    assert created.json()["version"] == "1.4.0"
    assert twice.status_code == 400 and "version" in twice.json()
    assert unknown.status_code == 400 and "9.9" in unknown.json()["version"][0]
    assert [m["note"] for m in api.get(path).json()["results"]] == ["expected: new tokenizer"]


def test_a_fall_read_first_as_a_step_then_as_a_drift_stays_one_finding(series):
    findings.record_findings(series=series, detected=[detected(kind="step")])

    findings.record_findings(series=series, detected=[detected(kind="drift")])

    finding = Finding.objects.get()
    assert (finding.kind, finding.status) == ("drift", "open")
