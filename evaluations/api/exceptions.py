"""Maps the services' domain errors onto HTTP answers, and a database outage onto a 503 that
clients retry; everything else is DRF's default."""

import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from evaluations.selectors import AmbiguousDataset, TooManyRows
from evaluations.services.baselines import BaselineError
from evaluations.services.findings import TriageError
from evaluations.services.ingest import IngestConflict, ReplayConflict
from evaluations.services.replicates import TooManySeeds

log = logging.getLogger(__name__)

DATABASE_UNAVAILABLE = {"detail": "The database is unavailable; try again shortly."}
RETRY_AFTER_SECONDS = 5


def database_unavailable_response():
    return Response(
        DATABASE_UNAVAILABLE,
        status=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def exception_handler(exc, context):
    # A refused or dropped connection: the request may well succeed once the database is back.
    if isinstance(exc, OperationalError | InterfaceError):
        log.error("database unavailable: %s", exc)
        return database_unavailable_response()
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return Response(
            {"detail": f"Request body is over the limit of {limit} bytes."},
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, ReplayConflict):
        return Response(exc.errors, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, AmbiguousDataset):  # a series asked for without its dataset
        return Response(
            {"dataset": [f"Required: this model has results on {', '.join(exc.names)}."]},
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, TooManyRows):
        return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, IngestConflict | BaselineError | TriageError | TooManySeeds):
        return Response(exc.errors, status=status.HTTP_400_BAD_REQUEST)
    return drf_exception_handler(exc, context)
