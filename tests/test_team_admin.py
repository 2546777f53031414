"""Team administration without a shell: owners add, re-role and remove members; viewers read
but change nothing; plain members manage neither members nor tokens; a project keeps an owner."""

import threading

import pytest
from django.contrib.auth import get_user_model
from django.db import connections

from evaluations.models import BaselinePin, Channel, Finding, Membership, ModelVersion
from evaluations.services import alerts, findings
from evaluations.services import projects as project_services

PATH = "/projects/acme/settings/members/"


def join(project, username, role, email=""):
    user = project_services.ensure_member(project=project, username=username, role=role)
    if email:
        user.email = email
        user.save(update_fields=["email"])
    return user


@pytest.fixture
def owner(client, project):
    user = join(project, "olga", Membership.Role.OWNER)
    client.force_login(user)
    return user


@pytest.fixture
def outsider(db):
    return get_user_model().objects.create_user("bob", email="Bob@Example.com", password="x")


def roles(project):
    return dict(project.membership_set.values_list("user__username", "role"))


def test_owner_adds_by_username_or_email_and_sets_roles(client, project, owner, outsider):
    get_user_model().objects.create_user("cleo")

    by_email = client.post(PATH, {"add": "1", "user": "bob@example.com", "role": "viewer"})
    by_name = client.post(PATH, {"add": "1", "user": "cleo", "role": "member"})
    promoted = client.post(PATH, {"set_role": "1", "user_id": outsider.pk, "role": "owner"})

    assert (by_email.status_code, by_name.status_code, promoted.status_code) == (302, 302, 302)
    assert roles(project) == {"olga": "owner", "bob": "owner", "cleo": "member"}
    page = client.get(PATH).content.decode()
    assert "cleo" in page and "Bob@example.com" in page


def test_adding_an_unknown_or_present_user_says_why_and_changes_nothing(client, project, owner):
    unknown = client.post(PATH, {"add": "1", "user": "nobody@example.com", "role": "member"})
    again = client.post(PATH, {"add": "1", "user": "olga", "role": "viewer"})
    bad_role = client.post(PATH, {"add": "1", "user": "olga", "role": "god"})

    assert unknown.status_code == 400
    assert "No single user is called &#x27;nobody@example.com&#x27;" in unknown.content.decode()
    assert again.status_code == 400 and "olga is already a member" in again.content.decode()
    assert bad_role.status_code == 400
    assert roles(project) == {"olga": "owner"}


def test_removing_asks_first_then_the_member_loses_access(client, project, owner, outsider):
    join(project, "bob", Membership.Role.MEMBER)

    asked = client.post(PATH, {"remove": "1", "user_id": outsider.pk})
    assert asked.status_code == 200 and "Yes, remove bob" in asked.content.decode()
    assert "bob" in roles(project)

    removed = client.post(PATH, {"remove": "1", "user_id": outsider.pk, "confirm": "yes"})
    assert removed.status_code == 302
    assert roles(project) == {"olga": "owner"}
    client.force_login(outsider)
    assert client.get("/projects/acme/").status_code == 404


def test_the_last_owner_can_be_neither_removed_nor_demoted(client, project, owner):
    demoted = client.post(PATH, {"set_role": "1", "user_id": owner.pk, "role": "member"})
    removed = client.post(PATH, {"remove": "1", "user_id": owner.pk, "confirm": "yes"})

    for response in (demoted, removed):
        assert response.status_code == 400
        assert "The last owner cannot be removed or demoted" in response.content.decode()
    assert roles(project) == {"olga": "owner"}

    other = join(project, "otto", Membership.Role.OWNER)
    assert client.post(PATH, {"set_role": "1", "user_id": other.pk, "role": "viewer"}).status_code
    assert roles(project) == {"olga": "owner", "otto": "viewer"}


@pytest.mark.parametrize("role", ["member", "viewer"])
def test_members_and_viewers_see_the_team_but_cannot_manage_it(client, project, outsider, role):
    owner = join(project, "olga", Membership.Role.OWNER)
    client.force_login(join(project, "ana", role))

    page = client.get(PATH)
    assert page.status_code == 200 and "olga" in page.content.decode()
    posts = [
        {"add": "1", "user": "bob", "role": "owner"},
        {"set_role": "1", "user_id": owner.pk, "role": "viewer"},
        {"remove": "1", "user_id": owner.pk, "confirm": "yes"},
    ]
    assert [client.post(PATH, body).status_code for body in posts] == [403, 403, 403]
    tokens = client.post("/projects/acme/settings/tokens/", {"name": "mine"})
    assert tokens.status_code == 403
    assert roles(project) == {"olga": "owner", "ana": role}


def test_a_non_member_gets_404(client, project, outsider):
    join(project, "olga", Membership.Role.OWNER)
    client.force_login(outsider)
    assert client.get(PATH).status_code == 404
    assert client.post(PATH, {"add": "1", "user": "bob", "role": "owner"}).status_code == 404


@pytest.fixture
def viewer(client, project, post_run, run_body):
    post_run(run_body)
    client.force_login(join(project, "vic", Membership.Role.VIEWER))


def open_finding():
    version = ModelVersion.objects.get()
    detected = findings.Detected(
        kind="drift", start_version_id=version.pk, end_version_id=version.pk, magnitude=0.02,
        relative_magnitude=0.02, slope=-0.002, p_value=0.001, confidence=0.999,
        forecast_versions=6.0, message="accuracy has drifted down",
    )  # fmt: skip
    series = version.model.series.get(metric__name="accuracy")
    findings.record_findings(series=series, detected=[detected])
    return Finding.objects.get()


def test_a_viewer_reads_pages_but_cannot_pin_triage_or_change_settings(client, viewer):
    finding = open_finding()
    model = "/projects/acme/models/fraud-detector/"
    pin = {"dataset": "holdout", "version": "1.4.0", "confirmed": "1"}

    for page in ("/projects/acme/", model, f"/findings/{finding.pk}/", "/projects/acme/settings/"):
        assert client.get(page).status_code == 200, page
    pinned = client.post(f"{model}baseline/", pin)
    triaged = client.post(f"/findings/{finding.pk}/", {"action": "acknowledge"})
    subscribed = client.post(
        "/projects/acme/settings/", {"name": "mine", "emails": "vic@example.com"}
    )

    assert [pinned.status_code, triaged.status_code, subscribed.status_code] == [403, 403, 403]
    assert "Only the project&#x27;s owners and members pin baselines" in pinned.content.decode()
    assert not BaselinePin.objects.exists()
    assert Finding.objects.get().status == "open"
    assert not Channel.objects.exists()


CONTROLS = {
    "finding": ('name="action" value="acknowledge"', 'id="triage"'),
    "compare": ("as baseline…",),
    "settings": ('id="add-channel"', 'name="delete"'),
}


def control_pages(client, finding):
    model = "/projects/acme/models/fraud-detector/"
    pages = {
        "finding": client.get(f"/findings/{finding.pk}/"),
        "compare": client.get(
            f"{model}compare/", {"dataset": "holdout", "a": "1.4.0", "b": "1.4.0"}
        ),
        "settings": client.get("/projects/acme/settings/"),
    }
    assert {name: page.status_code for name, page in pages.items()} == dict.fromkeys(pages, 200)
    return {name: page.content.decode() for name, page in pages.items()}


@pytest.mark.parametrize(("role", "shown"), [("viewer", False), ("member", True), ("owner", True)])
def test_pin_triage_and_subscription_controls_are_shown_only_to_who_may_use_them(
    client, project, post_run, run_body, role, shown
):
    post_run(run_body)
    alerts.save_channel(
        project=project, name="team", emails=["team@example.com"], include_members=False,
        model_names=[], kinds=[], notify_recovered=False,
    )  # fmt: skip
    client.force_login(join(project, "someone", role))
    finding = open_finding()

    pages = control_pages(client, finding)

    for name, markers in CONTROLS.items():
        for marker in markers:
            assert (marker in pages[name]) is shown, (role, name, marker)
    assert ('id="read-only"' in pages["finding"]) is not shown


def test_a_member_may_still_pin_and_triage(client, project, post_run, run_body):
    post_run(run_body)
    client.force_login(join(project, "ana", Membership.Role.MEMBER))
    finding = open_finding()

    client.post(
        "/projects/acme/models/fraud-detector/baseline/",
        {"dataset": "holdout", "version": "1.4.0", "confirmed": "1"},
    )
    client.post(f"/findings/{finding.pk}/", {"action": "acknowledge"})

    assert BaselinePin.objects.count() == 1
    assert Finding.objects.get().status == "acknowledged"


def test_memberships_are_in_the_django_admin(client, project, owner):
    get_user_model().objects.filter(pk=owner.pk).update(is_staff=True, is_superuser=True)
    response = client.get("/admin/evaluations/membership/")
    assert response.status_code == 200
    assert "olga in acme (owner)" in response.content.decode()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_owners_demoting_each_other_at_once_leave_one_owner():
    project, _ = project_services.ensure_project(name="acme")
    olga = join(project, "olga", Membership.Role.OWNER)
    otto = join(project, "otto", Membership.Role.OWNER)
    barrier = threading.Barrier(2)
    outcomes = []

    def demote(user):
        try:
            barrier.wait(timeout=30)
            project_services.set_role(project=project, user_id=user.pk, role="member")
            outcomes.append("demoted")
        except project_services.MembershipError:
            outcomes.append("refused")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=demote, args=(user,)) for user in (olga, otto)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes) == ["demoted", "refused"]
    assert list(roles(project).values()).count("owner") == 1
