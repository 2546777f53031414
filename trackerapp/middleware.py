"""Headers every page carries: no cache, shared or private, keeps a page behind the login."""

from django.utils.cache import patch_cache_control


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
