"""Browser tests: Debian's headless Chromium (``scripts/install-browser``) driven by Playwright
against pytest-django's live server, which serves the pages and /static/ like ``runserver``.

Tests marked ``browser`` need Chromium (``CHROMIUM_PATH``, else /usr/bin/chromium): without
it they are skipped locally and fail in CI. Playwright never downloads a browser of its own.

Fixtures: ``browser`` (one Chromium for the e2e tests), ``page`` (a fresh context on the live
server; relative URLs work, and a failing test leaves a screenshot in screenshots/),
``log_in_as`` (makes a project member and logs in through the real login form) and
``member_page`` (a page logged in as a plain member of ``acme``). ``shot(page, name)`` saves
a screenshot.
"""

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from evaluations.models import Membership
from evaluations.services import projects
from tests.conftest import _missing

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH") or "/usr/bin/chromium")
# The flags this machine's closed network needs: no background connections, no QUIC.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
PASSWORD = "e2e-pass-Wq8v"
TIMEOUT_MS = 5_000


def pytest_runtest_setup(item):
    if item.get_closest_marker("browser") and not CHROMIUM.is_file():
        _missing(f"needs Chromium at {CHROMIUM} (scripts/install-browser, or set CHROMIUM_PATH)")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.e2e_call_failed = report.failed
    return report


def shot(page: Page, name: str) -> Path:
    """Save a full-page screenshot as screenshots/<name>.png and return its path."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.png"
    page.screenshot(path=path, full_page=True)
    return path


def drawn_chart(page: Page, index: int = 0):
    """The page's chart of metric ``index``, scrolled into view, once Plotly has drawn it."""
    chart = page.locator(f'.chart[data-metric="{index}"]')
    chart.scroll_into_view_if_needed()
    expect(chart).to_have_attribute("data-drawn", "true")
    return chart


@pytest.fixture(scope="package")
def playwright_driver():
    """Playwright, for the e2e package only. Its sync API keeps an asyncio loop marked as
    running in this thread, so Django's ORM, called by the tests and by the database flush
    after each one, would refuse to run ("cannot call this from an async context"): the
    check is lifted while Playwright runs, and put back before the rest of the suite."""
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    driver = sync_playwright().start()
    try:
        yield driver
    finally:
        driver.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="package")
def browser(playwright_driver):
    """One headless Chromium for all the e2e tests (each test gets its own context, with a
    fresh profile: cookies and storage are not shared)."""
    if not CHROMIUM.is_file():
        _missing(f"needs Chromium at {CHROMIUM}")
    browser = playwright_driver.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Logging in through the form hashes passwords; the production hasher costs ~0.3 s a
    time (the live server reads the same settings)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def page(request, browser, live_server):
    """A new browser page on the live server (``page.goto("/")`` works); a failing test
    leaves screenshots/<test name>-failed.png. A static file that fails to load, a failed
    request or an uncaught script error fails the test at teardown."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    problems = []

    def on_static_response(response):
        if "/static/" in response.url and response.status >= 400:
            problems.append(f"{response.status} for {response.url}")

    def on_request_failed(failed):
        # ERR_ABORTED is the browser cancelling a load when the page navigates on (a
        # favicon still loading when a test clicks through), not a broken file.
        if "/static/" in failed.url and failed.failure != "net::ERR_ABORTED":
            problems.append(f"{failed.failure} for {failed.url}")

    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    page.on("response", on_static_response)
    page.on("requestfailed", on_request_failed)
    yield page
    if getattr(request.node, "e2e_call_failed", False):
        shot(page, f"{request.node.name}-failed")
    context.close()
    if problems:
        pytest.fail("the page had problems:\n" + "\n".join(problems))


def log_in(page: Page, username: str, password: str = PASSWORD) -> Page:
    """Log in through the login form, as a person would; returns on the page it lands on."""
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/login/" not in url)
    return page


@pytest.fixture
def log_in_as(page, project):
    """``log_in_as("olga", role=Membership.Role.OWNER)``: a member of ``acme`` with that role
    (created if needed), logged in on ``page`` through the login form; returns the page."""

    def log_in_member(username="ana", role=Membership.Role.MEMBER):
        projects.ensure_member(project=project, username=username, password=PASSWORD, role=role)
        return log_in(page, username)

    return log_in_member


@pytest.fixture
def member_page(log_in_as):
    """A page logged in as ``ana``, a plain member of ``acme``, on the home page."""
    return log_in_as("ana")
