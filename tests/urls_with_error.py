"""The site's URLs and one that fails, for the tests of what an unhandled error leaves behind
(log lines, Sentry events)."""

from django.urls import path

from trackerapp.urls import handler500
from trackerapp.urls import urlpatterns as site_urls


class DeliberateFailure(Exception):
    pass


def failing_view(request):
    raise DeliberateFailure("a deliberate failure in a view")


urlpatterns = [*site_urls, path("failing/", failing_view, name="failing")]

__all__ = ["handler500", "urlpatterns"]
