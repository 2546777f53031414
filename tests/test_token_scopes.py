"""Token scopes: an ingest token posts and reads what CI reads; only an admin token moves the
goalposts (rules, baselines, marks, triage) or sees the team's alert subscriptions; an expired
token is refused like a revoked one."""

from datetime import timedelta

import pytest
from django.utils import timezone

from evaluations.models import (
    ApiToken,
    BaselinePin,
    ChangeMark,
    Channel,
    Finding,
    ModelVersion,
    Series,
    ThresholdRule,
)
from evaluations.services import findings
from evaluations.services import projects as project_services
from tests.conftest import client_for

MODEL = "/api/v1/models/fraud-detector"
REFUSED = {"detail": "This token's scope is ingest; this call needs admin."}

# (method, path, body): {rule}, {finding} and {subscription} are filled in by the fixture.
ADMIN_CALLS = [
    ("put", f"{MODEL}/baseline/", {"dataset": "holdout", "version": "1.4.0"}),
    ("post", f"{MODEL}/thresholds/", {"metric": "f1", "min": 0.5}),
    ("patch", f"{MODEL}/thresholds/{{rule}}/", {"min": 0.1}),
    ("delete", f"{MODEL}/thresholds/{{rule}}/", None),
    ("post", f"{MODEL}/marks/", {"version": "1.4.0", "note": "new tokenizer"}),
    ("post", "/api/v1/findings/{finding}/acknowledge/", {"note": "mine"}),
    ("post", "/api/v1/findings/{finding}/resolve/", None),
    ("post", "/api/v1/findings/{finding}/false_alarm/", None),
    ("post", "/api/v1/subscriptions/", {"name": "mine", "emails": ["eve@example.com"]}),
    ("get", "/api/v1/subscriptions/", None),
    ("get", "/api/v1/subscriptions/{subscription}/", None),
    ("patch", "/api/v1/subscriptions/{subscription}/", {"emails": ["eve@example.com"]}),
    ("delete", "/api/v1/subscriptions/{subscription}/", None),
    ("get", "/api/v1/notifications/", None),
]

INGEST_CALLS = [
    ("get", "/api/v1/runs/"),
    ("get", "/api/v1/runs/{run}/"),
    ("get", "/api/v1/models/"),
    ("get", f"{MODEL}/versions/"),
    ("get", f"{MODEL}/series/?metric=accuracy&dataset=holdout"),
    ("get", f"{MODEL}/baseline/?dataset=holdout"),
    ("get", f"{MODEL}/compare/?a=1.4.0&b=1.4.0&dataset=holdout"),
    ("get", f"{MODEL}/thresholds/"),
    ("get", f"{MODEL}/marks/"),
    ("get", "/api/v1/findings/"),
    ("get", "/api/v1/findings/{finding}/"),
    ("get", "/api/v1/findings/precision/"),
]


@pytest.fixture
def rows(api, post_run, run_body):
    """A run, a pinned baseline, a rule, an open finding and a subscription, made by admin."""
    run = post_run(run_body).json()
    api.put(f"{MODEL}/baseline/", {"dataset": "holdout", "version": "1.4.0"}, format="json")
    rule = api.post(f"{MODEL}/thresholds/", {"metric": "accuracy", "min": 0.5}, format="json")
    subscription = api.post(
        "/api/v1/subscriptions/", {"name": "oncall", "emails": ["ana@example.com"]}, format="json"
    )
    version = ModelVersion.objects.get()
    detected = findings.Detected(
        kind="drift", start_version_id=version.pk, end_version_id=version.pk, magnitude=0.02,
        relative_magnitude=0.02, slope=-0.002, p_value=0.001, confidence=0.999,
        forecast_versions=6.0, message="accuracy has drifted down",
    )  # fmt: skip
    series = Series.objects.get(metric__name="accuracy")
    findings.record_findings(series=series, detected=[detected])
    return {
        "run": run["id"], "rule": rule.json()["id"], "subscription": subscription.json()["id"],
        "finding": Finding.objects.get().pk,
    }  # fmt: skip


def token_client(project, scope, **extra):
    return client_for(project_services.create_token(project=project, scope=scope, **extra)[1])


def state():
    """What an admin call may change: compared before and after a refused call."""
    return (
        list(BaselinePin.objects.values_list("pk", "model_version_id")),
        list(ThresholdRule.objects.values_list("pk", "min", "max")),
        ChangeMark.objects.count(),
        list(Finding.objects.values_list("pk", "status", "triage_note")),
        list(Channel.objects.values_list("pk", "name", "emails")),
    )


def call(client, method, path, body):
    return getattr(client, method)(path, body, format="json")


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_CALLS)
def test_an_ingest_token_is_refused_admin_calls_and_changes_nothing(
    project, rows, method, path, body
):
    before = state()
    response = call(token_client(project, "ingest"), method, path.format(**rows), body)
    assert (response.status_code, response.json()) == (403, REFUSED)
    assert state() == before


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_CALLS)
def test_an_admin_token_makes_admin_calls(project, rows, method, path, body):
    response = call(token_client(project, "admin"), method, path.format(**rows), body)
    assert response.status_code in (200, 201, 204), response.content


@pytest.mark.parametrize(("method", "path"), INGEST_CALLS)
def test_an_ingest_token_reads_what_ci_reads(project, rows, method, path):
    response = call(token_client(project, "ingest"), method, path.format(**rows), None)
    assert response.status_code == 200, response.content


def test_an_ingest_token_posts_runs_dry_runs_and_batches(project, run_body):
    client = token_client(project, "ingest")
    dry = client.post("/api/v1/runs/?dry_run=1", run_body, format="json")
    posted = client.post("/api/v1/runs/", run_body, format="json")
    batch = client.post(
        "/api/v1/runs/batch/", {"runs": [{**run_body, "external_id": "b-1"}]}, format="json"
    )
    assert (dry.status_code, posted.status_code, batch.status_code) == (200, 201, 201)


def test_an_expired_token_answers_401_like_a_revoked_one(project, run_body):
    client = token_client(project, "admin", expires_in_days=1)
    assert client.get("/api/v1/models/").status_code == 200
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.post("/api/v1/runs/", run_body, format="json")
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid, revoked or expired token."}


def test_the_openapi_document_says_which_scope_each_operation_needs(api):
    paths = api.get("/api/v1/schema/?format=json").json()["paths"]
    assert "Needs an `ingest` token" in paths["/api/v1/runs/"]["post"]["description"]
    assert (
        "Needs an `admin` token" in paths["/api/v1/models/{name}/baseline/"]["put"]["description"]
    )
    assert (
        "Needs an `ingest` token" in paths["/api/v1/models/{name}/baseline/"]["get"]["description"]
    )
    assert "Needs an `admin` token" in paths["/api/v1/subscriptions/"]["get"]["description"]
