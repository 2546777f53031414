"""The project's 500 handler: a database outage that escaped the views (a middleware's query,
a page) answers 503 with Retry-After, as JSON under /api/ and as a plain page elsewhere."""

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.views import defaults

from evaluations.api.exceptions import DATABASE_UNAVAILABLE, RETRY_AFTER_SECONDS

_PAGE = (
    "<!doctype html><title>Unavailable</title>"
    "<h1>The database is unavailable</h1><p>Try again shortly.</p>"
)


def server_error(request):
    exc = sys.exc_info()[1]
    if not isinstance(exc, OperationalError | InterfaceError):
        return defaults.server_error(request)
    if request.path.startswith("/api/"):
        response = JsonResponse(DATABASE_UNAVAILABLE, status=503)
    else:
        response = HttpResponse(_PAGE, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
