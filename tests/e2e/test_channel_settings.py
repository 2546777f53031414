"""Alert channels in the project's settings, in a real browser: a member adds a signed webhook,
sees it listed with its URL masked, and sends a test message that a real local server gets."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import shot
from tests.far_end import FarEnd, Reply

pytestmark = pytest.mark.browser

SECRET = "signing-secret-of-the-team-42"


@pytest.fixture
def far_end():
    server = FarEnd().start()
    yield server
    server.stop()


def test_a_member_adds_a_webhook_and_sends_it_a_test(member_page, far_end):
    page = member_page
    page.goto("/projects/acme/settings/")

    page.get_by_label("Name").fill("ops-hook")
    page.get_by_label("Kind").select_option("webhook")
    page.get_by_label("URL").fill(far_end.url)
    page.get_by_label("Secret").fill(SECRET)
    page.get_by_role("button", name="Add").click()

    row = page.get_by_role("row", name=re.compile("ops-hook"))
    expect(row).to_contain_text("webhook")
    expect(row).to_contain_text("(signed)")
    expect(row).to_contain_text(f"http://127.0.0.1/…{far_end.url[-4:]}")
    assert far_end.url not in page.content() and SECRET not in page.content()

    row.get_by_role("button", name="Send a test").click()
    expect(page.get_by_role("status")).to_contain_text("Test message sent through 'ops-hook'")
    shot(page, "channel-test-sent")
    (received,) = far_end.requests
    assert received.json()["alerts"][0]["kind"] == "test"
    assert received.headers["X-Tracker-Signature"].startswith("t=")

    far_end.replies = [Reply(410, "gone")]
    page.get_by_role("row", name=re.compile("ops-hook")).get_by_role(
        "button", name="Send a test"
    ).click()
    expect(page.get_by_role("status")).to_contain_text("failed: HTTP 410: gone")
