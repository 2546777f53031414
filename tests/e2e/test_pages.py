"""The pages in a real browser: logging in, the home page, the API token flow."""

import re

import pytest
from playwright.sync_api import expect

from evaluations.models import Membership
from tests.e2e.conftest import shot

pytestmark = pytest.mark.browser

TOKENS = "/projects/acme/settings/tokens/"


def test_member_logs_in_through_the_form_and_sees_the_home_page(member_page):
    expect(member_page).to_have_url(re.compile(r"/$"))
    expect(member_page.get_by_text("acme").first).to_be_visible()
    expect(member_page.get_by_role("button", name="Log out")).to_be_visible()
    # The stylesheet came from /static/: the top bar has its dark background.
    expect(member_page.locator(".topbar")).to_have_css("background-color", "rgb(36, 41, 47)")
    shot(member_page, "home")


def test_anonymous_visitor_is_sent_to_the_login_page_and_back(page, log_in_as):
    page.goto(TOKENS)

    expect(page).to_have_url(re.compile(r"/login/\?next="))
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    log_in_as("ana")  # lands on the home page
    page.goto(TOKENS)
    expect(page.get_by_role("heading", name="acme API tokens")).to_be_visible()


def test_wrong_password_is_refused_on_the_login_page(page, log_in_as):
    log_in_as("ana")
    page.get_by_role("button", name="Log out").click()

    page.goto("/login/")
    page.get_by_label("Username").fill("ana")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Log in").click()

    expect(page.get_by_role("alert")).to_contain_text("didn't match")
    expect(page).to_have_url(re.compile(r"/login/$"))


def test_owner_creates_a_token_sees_it_once_and_revokes_it(page, log_in_as):
    log_in_as("olga", role=Membership.Role.OWNER)
    page.goto("/projects/acme/settings/")
    page.get_by_role("link", name="API tokens").click()

    page.get_by_label("Token name").fill("github-actions")
    page.get_by_role("button", name="Create token").click()

    expect(page.get_by_role("alert")).to_contain_text("will not be shown again")
    secret = page.locator("#new-token-secret").inner_text()
    assert secret.startswith("mt_")
    shot(page, "token-created")
    assert api_status(page, secret) == 200

    page.goto(TOKENS)
    row = page.get_by_role("row", name=re.compile("github-actions"))
    expect(row).to_contain_text("olga")
    expect(row).to_contain_text("active")
    assert secret not in page.content()

    row.get_by_role("button", name="Revoke github-actions").click()
    expect(page.get_by_role("heading", name="Revoke token github-actions?")).to_be_visible()
    shot(page, "token-revoke-confirm")
    page.get_by_role("button", name="Yes, revoke github-actions").click()

    row = page.get_by_role("row", name=re.compile("github-actions"))
    expect(row).to_contain_text("revoked")
    expect(row.get_by_role("button")).to_have_count(0)
    shot(page, "token-revoked")
    assert api_status(page, secret) == 401


def api_status(page, secret):
    """The API's answer to the token, over HTTP from outside the browser session."""
    response = page.context.request.get(
        "/api/v1/models/", headers={"Authorization": f"Bearer {secret}"}
    )
    return response.status
