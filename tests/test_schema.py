"""The OpenAPI schema and its docs page describe every endpoint."""

import subprocess
import sys

from tests.conftest import ROOT


def test_schema_lists_every_endpoint(client, db):
    response = client.get("/api/v1/schema/?format=json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in (
        "/api/v1/runs/",
        "/api/v1/runs/batch/",
        "/api/v1/runs/{run_id}/",
        "/api/v1/models/",
        "/api/v1/models/{name}/versions/",
        "/api/v1/models/{name}/series/",
        "/api/v1/models/{name}/baseline/",
        "/api/v1/models/{name}/thresholds/",
        "/api/v1/models/{name}/thresholds/{id}/",
        "/api/v1/models/{name}/compare/",
        "/api/v1/models/{name}/marks/",
        "/api/v1/findings/",
        "/api/v1/findings/{id}/",
        "/api/v1/findings/{id}/acknowledge/",
        "/api/v1/findings/precision/",
        "/api/v1/models/{name}/missed/",
        "/api/v1/models/{name}/missed/{id}/",
        "/api/v1/subscriptions/",
        "/api/v1/subscriptions/{id}/",
        "/api/v1/notifications/",
    ):
        assert path in paths
    assert "post" in paths["/api/v1/runs/"]
    assert "projectToken" in response.json()["components"]["securitySchemes"]


def test_docs_page_is_served_without_a_cdn(client, db):
    response = client.get("/api/v1/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "cdn" not in html.lower()


def test_schema_generates_without_warnings():
    result = subprocess.run(
        [sys.executable, "manage.py", "spectacular", "--validate", "--fail-on-warn",
         "--file", "/dev/null"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr


def component(schema, ref_or_schema):
    """A property's schema, through the ``$ref`` (or ``allOf: [$ref]``) it points at."""
    ref = ref_or_schema.get("$ref") or ref_or_schema["allOf"][0]["$ref"]
    return schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]


def test_the_series_answer_documents_recall_beside_precision(client, db):
    schema = client.get("/api/v1/schema/?format=json").json()
    answer = schema["paths"]["/api/v1/models/{name}/series/"]["get"]["responses"]["200"]
    series = component(schema, answer["content"]["application/json"]["schema"])

    quality = component(schema, series["properties"]["alert_precision"])

    assert {"precision", "missed", "missed_covered", "recall"} <= set(quality["properties"])
    assert "real / (real + missed)" in quality["properties"]["recall"]["description"]
    assert "recall" in series["properties"]["alert_precision"]["description"]
    precision = schema["paths"]["/api/v1/findings/precision/"]["get"]["responses"]["200"]
    assert component(schema, precision["content"]["application/json"]["schema"]) == quality


def test_the_missed_list_documents_its_status_filter(client, db):
    schema = client.get("/api/v1/schema/?format=json").json()
    listed = schema["paths"]["/api/v1/models/{name}/missed/"]["get"]

    status = next(p for p in listed["parameters"] if p["name"] == "status")
    mark = component(schema, schema["components"]["schemas"]["PaginatedMissedList"]
                     ["properties"]["results"]["items"])  # fmt: skip

    assert set(status["schema"]["enum"]) == {"standing", "withdrawn", "*"}
    assert "`standing` when left out" in status["description"]
    assert set(component(schema, mark["properties"]["status"])["enum"]) == {"standing", "withdrawn"}
    assert {"withdrawn_by", "withdrawn_at"} <= set(mark["properties"])
