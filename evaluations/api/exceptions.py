"""Maps the services' domain errors onto HTTP answers; everything else is DRF's default."""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from evaluations.services.baselines import BaselineError
from evaluations.services.findings import TriageError
from evaluations.services.ingest import IngestConflict, ReplayConflict


def exception_handler(exc, context):
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return Response(
            {"detail": f"Request body is over the limit of {limit} bytes."},
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, ReplayConflict):
        return Response(exc.errors, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, IngestConflict | BaselineError | TriageError):
        return Response(exc.errors, status=status.HTTP_400_BAD_REQUEST)
    return drf_exception_handler(exc, context)
