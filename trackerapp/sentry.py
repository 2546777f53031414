"""Error reporting to Sentry, on when ``SENTRY_DSN`` is set: unhandled errors in views and in
Celery tasks (and error log lines) become events. Requests' personal data (cookies, users,
addresses, bodies) is not sent."""

import sentry_sdk
from sentry_sdk.integrations.celery import CeleryIntegration
from sentry_sdk.integrations.django import DjangoIntegration


def init_sentry(*, dsn, environment, release=None, traces_sample_rate=0.0):
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release,
        # Personal data stays out: send_default_pii left unset is False (setting it, even to
        # False, is deprecated in favour of data_collection, whose defaults collect more).
        traces_sample_rate=traces_sample_rate,
        integrations=[DjangoIntegration(), CeleryIntegration()],
    )
