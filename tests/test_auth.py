"""Tokens: required, project-scoped, stored hashed, revocable."""

import pytest
from django.utils import timezone

from evaluations.models import ApiToken, EvaluationRun
from tests.conftest import client_for

PATHS = [
    "/api/v1/runs/",
    "/api/v1/models/",
    "/api/v1/models/fraud-detector/versions/",
    "/api/v1/models/fraud-detector/series/?metric=accuracy",
]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("header", [None, "Bearer wrong-token", "Token abc", "Bearer "])
def test_missing_or_wrong_token_answers_401(db, path, header):
    client = client_for("x")
    client.credentials(**({"HTTP_AUTHORIZATION": header} if header else {}))

    response = client.get(path)

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_post_without_token_answers_401_and_writes_nothing(db, run_body):
    response = client_for("nope").post("/api/v1/runs/", run_body, format="json")

    assert response.status_code == 401
    assert not EvaluationRun.objects.exists()


def test_revoked_token_answers_401(api, token, run_body):
    ApiToken.objects.update(revoked_at=timezone.now())

    assert api.post("/api/v1/runs/", run_body, format="json").status_code == 401


def test_token_is_stored_only_as_a_digest(token):
    stored = ApiToken.objects.get()

    assert token.startswith("mt_")
    assert len(token) > 40
    assert token not in (stored.digest, stored.prefix, stored.name)
    assert stored.prefix == token[:10]


def test_token_use_is_recorded(api, token):
    api.get("/api/v1/models/")

    assert ApiToken.objects.get().last_used_at is not None


def test_a_project_cannot_read_another_projects_data(post_run, run_body, other_api):
    run_id = post_run(run_body).json()["id"]

    assert other_api.get(f"/api/v1/runs/{run_id}/").status_code == 404
    assert other_api.get("/api/v1/models/fraud-detector/versions/").status_code == 404
    series = "/api/v1/models/fraud-detector/series/?metric=accuracy&dataset=holdout"
    assert other_api.get(series).status_code == 404
    assert other_api.get("/api/v1/runs/").json()["count"] == 0
    assert other_api.get("/api/v1/models/").json()["count"] == 0


def test_a_project_writing_the_same_names_gets_its_own_rows(post_run, run_body, other_api):
    post_run(run_body)
    run_body["metrics"][0]["value"] = 0.5

    response = post_run(run_body, client=other_api)

    assert response.status_code == 201
    assert EvaluationRun.objects.count() == 2
    assert {r.project.name for r in EvaluationRun.objects.all()} == {"acme", "globex"}
