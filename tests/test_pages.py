"""Pages: login required, members only."""

import pytest

from evaluations.models import Membership
from evaluations.services import projects


@pytest.fixture
def run_id(post_run, run_body):
    return post_run(run_body).json()["id"]


def test_anonymous_visitor_is_sent_to_login(client, run_id):
    for path in ("/", f"/runs/{run_id}/"):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")


def test_member_sees_the_run_page_with_its_metrics(client, project, run_id):
    user = projects.ensure_member(project=project, username="ana", password="s3cret-pass")
    client.force_login(user)

    response = client.get(f"/runs/{run_id}/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "fraud-detector" in html
    assert "latency_p95_ms" in html
    assert "country=DE" in html
    assert "0.931" in html
    assert "https://ci.example.com/runs/881" in html


def test_non_member_gets_404_for_another_projects_run(client, run_id, db):
    other, _ = projects.ensure_project(name="globex")
    user = projects.ensure_member(project=other, username="eve")
    client.force_login(user)

    assert client.get(f"/runs/{run_id}/").status_code == 404


def test_home_lists_only_the_users_projects_and_models(client, project, run_id):
    user = projects.ensure_member(project=project, username="ana", role=Membership.Role.OWNER)
    projects.ensure_project(name="globex")
    client.force_login(user)

    html = client.get("/").content.decode()

    assert "acme" in html
    assert "fraud-detector" in html
    assert "globex" not in html


def test_login_page_logs_a_member_in(client, project):
    projects.ensure_member(project=project, username="ana", password="s3cret-pass")

    response = client.post("/login/", {"username": "ana", "password": "s3cret-pass"})

    assert response.status_code == 302
    assert client.get("/").status_code == 200
