"""The API fuzzed from its own OpenAPI schema (schemathesis, in-process through WSGI, on
PostgreSQL): no input answers 5xx, and answers conform to the schema. Bounded and
deterministic: a fixed number of examples per operation, derandomized."""

import json

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance
from werkzeug.test import Client

from evaluations.services import projects
from trackerapp.wsgi import application

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
# Read at collection, through the app itself; the schema view touches no table.
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", application)


@pytest.fixture
def in_test_transaction(db):
    """Requests through the WSGI handler share the test's connection, as with Django's test
    client: the handler must not close it at the end of each request."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def auth(in_test_transaction, project, run_body):
    """A token's header, on a project with one stored run (so that some paths are found)."""
    secret = projects.create_token(project=project, name="fuzz", scope="admin")[1]
    headers = {"Authorization": f"Bearer {secret}"}
    response = application_post("/api/v1/runs/", json.dumps(run_body), headers)
    assert response.status_code == 201, response.get_data()
    return headers


def application_post(path, text, headers):
    return Client(application).post(
        path, data=text, headers={**headers, "Content-Type": "application/json"}
    )


@schema.parametrize()
@settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_generated_request_answers_5xx_or_leaves_the_schema(case, auth):
    # Random model names are all 404; the stored model takes the request further in.
    if "name" in case.path_parameters:
        case.path_parameters["name"] = "fraud-detector"
    case.call_and_validate(headers=auth, checks=CHECKS)


RUN = {"model": "m", "version": "1", "dataset": "d", "metrics": [{"name": "f1", "value": 0.5}]}


def nested(levels):
    value = 1
    for _ in range(levels):
        value = [value]
    return value


def run_with(**fields):
    return {**RUN, **fields}


def metric(**fields):
    return run_with(metrics=[{"name": "f1", "value": 0.5, **fields}])


# The inputs that answered 500 before (found against gunicorn and PostgreSQL), as examples
# the fuzzing always tries: (method, path, Case arguments).
EXAMPLES = [
    ("POST", "/api/v1/runs/", {"body": run_with(metadata={"deep": nested(600)})}),
    ("POST", "/api/v1/runs/batch/", {"body": {"runs": [run_with(metadata=nested(600))]}}),
    ("POST", "/api/v1/subscriptions/", {"body": {"name": "s", "emails": nested(600)}}),
    ("POST", "/api/v1/runs/", {"body": run_with(metadata={"deep": nested(260)})}),
    ("POST", "/api/v1/runs/", {"body": run_with(metadata={"k\u0000": 1})}),
    ("POST", "/api/v1/runs/", {"body": run_with(metadata={"k": "v\u0000"})}),
    ("POST", "/api/v1/runs/", {"body": run_with(metadata={"k": "\ud800"})}),
    ("POST", "/api/v1/runs/", {"body": run_with(metadata={"k": 10**400})}),
    ("POST", "/api/v1/runs/", {"body": run_with(metrics={"f1\ud800": 0.5})}),
    ("POST", "/api/v1/runs/", {"body": run_with(metrics={"f1": 10**400})}),
    ("POST", "/api/v1/runs/", {"body": run_with(branch="main\u0000")}),
    ("POST", "/api/v1/runs/", {"body": metric(n=2**63)}),
    ("POST", "/api/v1/runs/", {"body": metric(n=2**63 - 1)}),
    ("POST", "/api/v1/runs/", {"body": metric(value=10**400)}),
    ("POST", "/api/v1/runs/", {"body": metric(unit="ms\u0000")}),
    ("POST", "/api/v1/runs/", {"body": run_with(dataset={"name": "d", "size": 2**63})}),
    (
        "GET",
        "/api/v1/models/{name}/series/",
        {
            "path_parameters": {"name": "fraud-detector"},
            "query": {"metric": "accuracy", "limit": 2**63},
        },
    ),
    ("GET", "/api/v1/notifications/", {"query": {"finding": "abc"}}),
    ("GET", "/api/v1/findings/precision/", {"query": {"model": "m\u0000"}}),
]


@pytest.mark.parametrize(("method", "path", "arguments"), EXAMPLES)
def test_the_inputs_that_answered_500_answer_400(auth, method, path, arguments):
    if "body" in arguments:
        arguments = {**arguments, "media_type": "application/json"}
    case = schema[path][method].Case(**arguments)

    response = case.call_and_validate(headers=auth, checks=CHECKS)

    assert response.status_code == 400, response.text
    assert response.json()
