"""Log lines: plain text for a terminal, or one JSON object per line for a log collector
(``LOG_FORMAT=json``), the same for the web, the worker and beat. Every line written while a
request or a Celery task is handled carries its id, so that one request's lines can be found
among many processes'.

Standard library only, with python-json-logger: gunicorn's configuration reads it before
Django starts.
"""

import contextvars
import logging

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

FORMATS = ("text", "json")

# Set by trackerapp.middleware.RequestIdMiddleware for a request's duration, and by the Celery
# app's task signals for a task's.
request_id = contextvars.ContextVar("request_id", default=None)
task_id = contextvars.ContextVar("task_id", default=None)

# Extras that would be written whole into a line: Django's request logger passes the request
# object (its path may carry a secret, e.g. an unsubscribe link's), Celery its task's data.
_LEFT_OUT = (*RESERVED_ATTRS, "request", "data", "args_repr", "kwargs_repr")


class ContextFilter(logging.Filter):
    """Puts the current request's and task's ids on every record (None outside them)."""

    def filter(self, record):
        record.request_id = request_id.get()
        record.task_id = task_id.get()
        return True


def json_formatter() -> logging.Formatter:
    """Level, time (UTC, ISO 8601), logger, message, request and task ids; an exception's
    traceback as ``exception``; any other ``extra`` a call passes."""
    return JsonFormatter(
        ["levelname", "name", "message", "request_id", "task_id"],
        rename_fields={"levelname": "level", "name": "logger", "exc_info": "exception"},
        timestamp="time",
        reserved_attrs=_LEFT_OUT,
    )


def logging_config(*, log_format: str, level: str) -> dict:
    """The ``logging.config.dictConfig`` of every process: one handler to standard error."""
    if log_format not in FORMATS:
        raise ValueError(f"LOG_FORMAT must be one of {', '.join(FORMATS)}, not {log_format!r}")
    handler = {"class": "logging.StreamHandler", "filters": ["context"]}
    if log_format == "json":
        handler["formatter"] = "json"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": ContextFilter}},
        "formatters": {"json": {"()": json_formatter}},
        "handlers": {"console": handler},
        "root": {"handlers": ["console"], "level": level},
    }


def use_json_lines(logger: logging.Logger):
    """Switch a logger someone else configured (Celery's) to JSON lines with the ids."""
    for handler in logger.handlers:
        handler.setFormatter(json_formatter())
        handler.addFilter(ContextFilter())
