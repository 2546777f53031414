"""What every page wears, in a real browser and over real HTTP: a favicon (so browsers stop
asking for a missing /favicon.ico) and buttons that cannot be undone looking it."""

import urllib.request

import pytest
from playwright.sync_api import expect

from evaluations.models import Channel, Membership
from tests.e2e.conftest import shot

pytestmark = pytest.mark.browser

RED = "rgb(207, 34, 46)"  # --bad in app.css


def test_pages_link_a_favicon_and_favicon_ico_answers_it(page, live_server):
    page.goto("/login/")
    icon = page.locator('link[rel="icon"]')
    expect(icon).to_have_attribute("type", "image/svg+xml")
    linked = page.request.get(icon.get_attribute("href"))
    assert linked.status == 200 and linked.headers["content-type"].startswith("image/svg+xml")

    # What browsers ask for without reading the page: redirected to the same icon.
    with urllib.request.urlopen(f"{live_server.url}/favicon.ico") as answer:
        assert answer.status == 200
        assert answer.headers["Content-Type"].startswith("image/svg+xml")
        assert answer.url.endswith(icon.get_attribute("href"))
        assert b"<svg" in answer.read()


def test_revoke_and_delete_buttons_look_destructive(log_in_as, project, token):
    page = log_in_as("olga", role=Membership.Role.OWNER)
    Channel.objects.create(project=project, name="ml-team", emails=["a@example.com"])

    page.goto("/projects/acme/settings/tokens/")
    revoke = page.get_by_role("button", name="Revoke")
    create = page.get_by_role("button", name="Create token")
    expect(revoke).to_have_css("color", RED)
    expect(revoke).to_have_css("border-top-color", RED)
    expect(create).not_to_have_css("color", RED)
    revoke.hover()
    expect(revoke).to_have_css("background-color", RED)  # filled when pointed at
    shot(page, "tokens-revoke")

    revoke.click()
    expect(page.get_by_role("button", name="Yes, revoke")).to_have_css("color", RED)

    page.goto("/projects/acme/settings/")
    expect(page.get_by_role("button", name="Delete")).to_have_css("color", RED)
    expect(page.get_by_role("button", name="Add")).not_to_have_css("color", RED)
