"""Pages: login required, members only."""

import pytest

from evaluations.models import Channel, Membership
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

    html = client.get("/", follow=True).content.decode()

    assert "acme" in html
    assert "fraud-detector" in html
    assert "globex" not in html


def test_login_page_logs_a_member_in(client, project):
    projects.ensure_member(project=project, username="ana", password="s3cret-pass")

    response = client.post("/login/", {"username": "ana", "password": "s3cret-pass"})

    assert response.status_code == 302
    assert client.get("/", follow=True).status_code == 200


def test_members_manage_alert_subscriptions_in_the_project_settings(client, project):
    user = projects.ensure_member(project=project, username="ana")
    client.force_login(user)
    path = "/projects/acme/settings/"

    added = client.post(path, {"name": "oncall", "emails": "a@example.com, b@example.com",
                               "models": "fraud-detector", "kinds": ["drift"]})  # fmt: skip
    refused = client.post(path, {"name": "x", "emails": "not-an-address"})

    assert added.status_code == 302
    subscription = Channel.objects.get()
    assert subscription.emails == ["a@example.com", "b@example.com"]
    assert (subscription.model_names, subscription.kinds) == (["fraud-detector"], ["drift"])
    assert refused.status_code == 200
    assert "is not an e-mail address" in refused.content.decode()
    assert "oncall" in client.get(path).content.decode()
    client.post(path, {"delete": subscription.pk})
    assert not Channel.objects.exists()


def test_project_settings_are_for_members_only(client, project, db):
    assert client.get("/projects/acme/settings/").status_code == 302
    other, _ = projects.ensure_project(name="globex")
    client.force_login(projects.ensure_member(project=other, username="eve"))
    assert client.get("/projects/acme/settings/").status_code == 404


def test_the_finding_page_explains_it_and_acknowledges_it(client, project, post_run, run_body):
    from evaluations.models import Finding, ModelVersion, Series
    from evaluations.services import findings

    post_run(run_body)
    version = ModelVersion.objects.get()
    findings.record_findings(series=Series.objects.get(metric__name="accuracy"), detected=[
        findings.Detected(kind="drift", start_version_id=version.pk, end_version_id=version.pk,
                          magnitude=-0.02, relative_magnitude=-0.02, slope=-0.002,
                          p_value=0.001, confidence=0.999, forecast_versions=3,
                          message="accuracy has drifted down 2 points")])  # fmt: skip
    finding = Finding.objects.get()
    path = f"/findings/{finding.pk}/"
    assert client.get(path).status_code == 302  # login first
    client.force_login(projects.ensure_member(project=project, username="ana"))

    page = client.get(path).content.decode()
    client.post(path, {"action": "acknowledge", "note": "looking"})

    assert "accuracy has drifted down 2 points" in page
    assert "Notifications" in page
    finding.refresh_from_db()
    assert (finding.status, finding.triaged_by, finding.triage_note) == (
        "acknowledged", "ana", "looking",
    )  # fmt: skip
