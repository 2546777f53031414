"""Headers every answer carries: no cache, shared or private, keeps a page behind the login;
each request has an id, in its log lines and its answer."""

import re
import uuid

from django.utils.cache import patch_cache_control

from trackerapp import logs


class PrivatePagesMiddleware:
    """``Cache-Control: private, no-store`` on every HTML answer (the dashboards, the login
    page, error pages, the API docs): they show a project's data or a session's CSRF token,
    and a browser's back button or a proxy must not serve them to the next person. JSON from
    the API and static files (answered by WhiteNoise before this runs) keep their own."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.get("Content-Type", "").startswith("text/html"):
            patch_cache_control(response, private=True, no_store=True)
        return response


class RequestIdMiddleware:
    """Gives each request an id: the caller's ``X-Request-ID`` when it is a sane token (a
    proxy's or a client's, so that their logs and ours meet), else a new one. It is put on
    every log line written while the request is handled and returned in the same header."""

    HEADER = "X-Request-ID"
    # Letters, digits and ``-_.:``, as proxies write them (UUIDs, trace ids): nothing that
    # could forge a log line or a header, and bounded.
    VALID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.headers.get(self.HEADER, "")
        request.id = given if self.VALID.fullmatch(given) else uuid.uuid4().hex
        token = logs.request_id.set(request.id)
        try:
            response = self.get_response(request)
        finally:
            logs.request_id.reset(token)
        response[self.HEADER] = request.id
        return response
