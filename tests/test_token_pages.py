"""The API token page: members see the tokens, owners create (secret shown once) and revoke."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from evaluations.models import ApiToken, Membership
from evaluations.services import projects
from tests.conftest import client_for

PATH = "/projects/acme/settings/tokens/"
BASELINE = "/api/v1/models/fraud-detector/baseline/"


@pytest.fixture
def owner(client, project):
    user = projects.ensure_member(project=project, username="olga", role=Membership.Role.OWNER)
    client.force_login(user)
    return user


@pytest.fixture
def member(client, project):
    user = projects.ensure_member(project=project, username="ana")
    client.force_login(user)
    return user


def create(client, name="github-actions", **fields):
    response = client.post(PATH, {"name": name, **fields})
    secret = re.search(r'<code id="new-token-secret">(mt_[^<]+)</code>', response.content.decode())
    return response, secret and secret.group(1)


def test_anonymous_visitor_is_sent_to_login(client, project):
    response = client.get(PATH)

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_non_member_gets_404(client, project):
    other, _ = projects.ensure_project(name="globex")
    client.force_login(projects.ensure_member(project=other, username="eve"))

    assert client.get(PATH).status_code == 404
    assert client.post(PATH, {"name": "sneaky"}).status_code == 404
    assert not ApiToken.objects.exists()


def test_settings_page_links_to_the_tokens(client, member):
    assert PATH in client.get("/projects/acme/settings/").content.decode()


def test_member_sees_the_tokens_but_not_their_secrets(client, member, project, token):
    projects.create_token(project=project, name="nightly", created_by=member)

    response = client.get(PATH)

    html = response.content.decode()
    assert response.status_code == 200
    assert '<th scope="row">nightly</th>' in html and '<th scope="row">ci</th>' in html
    assert "<td>ana</td>" in html
    assert token[:10] in html  # the prefix, to recognise a token
    assert token not in html
    assert "Only the project's owners can create or revoke tokens." in html
    assert "Create token" not in html


def test_member_may_not_create_or_revoke(client, member, token):
    token_id = ApiToken.objects.get().pk

    assert client.post(PATH, {"name": "mine"}).status_code == 403
    assert client.post(PATH, {"revoke": token_id, "confirm": "yes"}).status_code == 403
    assert ApiToken.objects.get().revoked_at is None


def test_owner_creates_a_token_and_sees_its_secret_once(client, owner):
    response, secret = create(client)

    assert response.status_code == 200
    assert "will not be shown again" in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    stored = ApiToken.objects.get()
    assert (stored.name, stored.created_by, stored.prefix) == ("github-actions", owner, secret[:10])
    assert client_for(secret).get("/api/v1/models/").status_code == 200
    listing = client.get(PATH).content.decode()
    assert "github-actions" in listing and "olga" in listing
    assert secret not in listing


def test_a_token_needs_a_name(client, owner):
    response, secret = create(client, name="")

    assert response.status_code == 200
    assert secret is None
    assert "This field is required." in response.content.decode()
    assert not ApiToken.objects.exists()


def test_owner_chooses_the_scope_and_expiry_and_the_list_shows_them(client, owner, run_body):
    _, ingest = create(client, name="ci")
    response, admin = create(client, name="ops", scope="admin", expires_in_days="7")

    assert "Its scope is <strong>admin</strong>" in response.content.decode()
    assert dict(ApiToken.objects.values_list("name", "scope")) == {"ci": "ingest", "ops": "admin"}
    ops = ApiToken.objects.get(name="ops")
    assert ops.expires_at.date() == (ops.created_at + timedelta(days=7)).date()
    pin = {"dataset": "holdout", "version": "1.4.0"}
    client_for(ingest).post("/api/v1/runs/", run_body, format="json")
    assert client_for(ingest).put(BASELINE, pin, format="json").status_code == 403
    assert client_for(admin).put(BASELINE, pin, format="json").status_code == 200
    ApiToken.objects.filter(name="ops").update(expires_at=timezone.now())
    listing = client.get(PATH).content.decode()
    assert re.search(r"<td>ingest</td>\s*<td>never</td>", listing)
    assert re.search(r"<td>admin</td>\s*<td><time[^>]*>[^<]+</time></td>", listing)
    assert ">expired</td>" in listing


def test_a_bad_scope_or_expiry_creates_nothing(client, owner):
    for fields in ({"scope": "root"}, {"expires_in_days": "0"}, {"expires_in_days": "soon"}):
        response, secret = create(client, **fields)
        assert (response.status_code, secret) == (200, None)
    assert not ApiToken.objects.exists()


def test_revoking_asks_for_confirmation_first(client, owner, token):
    token_id = ApiToken.objects.get().pk

    response = client.post(PATH, {"revoke": token_id})

    assert response.status_code == 200
    assert "Yes, revoke ci" in response.content.decode()
    assert ApiToken.objects.get().revoked_at is None
    assert client_for(token).get("/api/v1/models/").status_code == 200


def test_revoked_token_stops_authenticating(client, owner, token):
    token_id = ApiToken.objects.get().pk

    response = client.post(PATH, {"revoke": token_id, "confirm": "yes"})

    assert response.status_code == 302
    assert response["Location"] == PATH
    assert client_for(token).get("/api/v1/models/").status_code == 401
    stored = ApiToken.objects.get()
    assert stored.revoked_by == owner
    html = client.get(PATH).content.decode()
    assert "revoked" in html and "by olga" in html
    assert "Revoke ci" not in html


def test_owner_cannot_revoke_another_projects_token(client, owner, db):
    other, _ = projects.ensure_project(name="globex")
    foreign, secret = projects.create_token(project=other, name="theirs")

    response = client.post(PATH, {"revoke": foreign.pk, "confirm": "yes"})

    assert response.status_code == 404
    assert client_for(secret).get("/api/v1/models/").status_code == 200


def test_revoke_with_a_malformed_id_answers_400(client, owner):
    for malformed in ("x", "", "-1", str(2**63)):
        assert client.post(PATH, {"revoke": malformed, "confirm": "yes"}).status_code == 400


def test_token_list_costs_a_fixed_number_of_queries(
    client, owner, project, django_assert_max_num_queries
):
    for number in range(5):
        token, _ = projects.create_token(project=project, name=f"t{number}", created_by=owner)
        projects.revoke_token(project=project, token_id=token.pk, by=owner)

    with django_assert_max_num_queries(6):
        assert client.get(PATH).status_code == 200
