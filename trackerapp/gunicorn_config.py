"""gunicorn's settings beyond those on ``scripts/web``'s command line: each access line ends
with the request's time and id (the ``X-Request-ID`` answered), and with ``LOG_FORMAT=json``
gunicorn's own lines and its access lines are JSON, like the application's."""

import os

from trackerapp import logs

access_log_format = (
    '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms %({x-request-id}o)s'
)

if os.environ.get("LOG_FORMAT", "").strip().lower() == "json":
    logconfig_dict = logs.logging_config(
        log_format="json", level=os.environ.get("LOG_LEVEL", "INFO")
    )
    logconfig_dict["loggers"] = {
        name: {"handlers": ["console"], "level": "INFO", "propagate": False}
        for name in ("gunicorn.error", "gunicorn.access")
    }
