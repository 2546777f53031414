"""Every page carries a Content-Security-Policy and is kept out of caches; static files are
not; labels with markup stay text in the pages."""

import pytest

from evaluations.models import EvaluationRun, Finding
from tests.test_dashboard_pages import history  # noqa: F401 (a fixture)

MODEL = "/projects/acme/models/fraud-detector/"
STRICT = {
    "default-src": "'self'",
    "script-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
    "img-src": "'self' data:",
    "style-src": "'self' 'unsafe-inline'",
}


def policy(response):
    """The Content-Security-Policy header as {directive: sources}."""
    header = response["Content-Security-Policy"]
    parts = (part.strip().split(" ", 1) for part in header.split(";") if part.strip())
    return {name: (sources[0] if sources else "") for name, *sources in parts}


def logged_in_pages():
    run = EvaluationRun.objects.get(model_version__label="1.49")
    finding = Finding.objects.get(kind="drift")
    return {
        "overview": "/projects/acme/",
        "model page": MODEL,
        "model page, every slice": MODEL + "?slice=*",
        "compare": MODEL + "compare/",
        "pin": MODEL + "baseline/?version=1.1&dataset=holdout",
        "run": f"/runs/{run.pk}/",
        "finding": f"/findings/{finding.pk}/",
        "settings": "/projects/acme/settings/",
        "tokens": "/projects/acme/settings/tokens/",
        "docs": "/api/v1/docs/",
        "not found": "/projects/acme/models/no-such-model/",
    }


def assert_page_headers(response, path):
    assert "text/html" in response["Content-Type"], path
    csp = policy(response)
    for directive, sources in STRICT.items():
        assert csp.get(directive) == sources, (path, directive, csp)
    # No inline or evaluated script anywhere, whatever the page.
    assert "unsafe" not in csp["script-src"], path
    cache = {part.strip() for part in response["Cache-Control"].split(",")}
    assert {"private", "no-store"} <= cache, (path, cache)


def test_every_dashboard_page_has_the_policy_and_is_not_cached(member, history):  # noqa: F811
    for name, path in logged_in_pages().items():
        response = member.get(path)

        assert response.status_code == (404 if name == "not found" else 200), (name, path)
        assert_page_headers(response, path)


@pytest.mark.parametrize("path", ["/login/", "/projects/acme/", "/api/v1/docs/", "/nope/"])
def test_pages_seen_without_a_session_have_the_policy_and_are_not_cached(client, db, path):
    response = client.get(path)

    assert response.status_code in (200, 302, 404)
    assert_page_headers(response, path)


def test_the_docs_page_loads_its_script_from_a_url_not_inline(client, db):
    html = client.get("/api/v1/docs/").content.decode()
    script = client.get("/api/v1/docs/?script=")

    assert "<script>" not in html
    assert '<script src="/api/v1/docs/?script="></script>' in html
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.content.decode()


def test_static_files_are_cacheable_and_carry_no_policy(client):
    response = client.get("/static/css/app.css")

    assert response.status_code == 200
    assert "Content-Security-Policy" not in response
    assert "no-store" not in response.get("Cache-Control", "")


def test_api_answers_keep_their_own_caching(api):
    response = api.get("/api/v1/models/")

    assert response.status_code == 200
    assert "no-store" not in response.get("Cache-Control", "")


def test_labels_with_markup_are_escaped_in_the_pages(member, api):
    body = {
        "model": "fraud-detector",
        "version": '<a href="https://evil.example">1.0</a>',
        "commit": "<b>c0ffee</b>",
        "dataset": {"name": "<i>holdout</i>", "version": "v1"},
        "metrics": [{"name": "accuracy", "value": 0.9, "slice": "<b>x</b>"}],
    }
    assert api.post("/api/v1/runs/", body, format="json").status_code == 201
    run = EvaluationRun.objects.get()

    for path in (MODEL + "?slice=*", MODEL + "compare/", f"/runs/{run.pk}/"):
        html = member.get(path).content.decode()
        assert "evil.example" in html, path  # the label is on the page ...
        assert '<a href="https://evil.example">' not in html, path  # ... but never as markup
        assert "<b>x</b>" not in html and "<i>holdout</i>" not in html, path
