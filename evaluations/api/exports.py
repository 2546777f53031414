"""``?format=csv`` and ``?format=parquet`` on the API's reads (a series, the runs list, a
comparison): renderers that let DRF's content negotiation accept the two formats, and a view
mixin that answers a table as a file (``evaluations.downloads``), refuses an unknown format
by name (400) and Parquet on a server without pyarrow (406), after the token and its scope
have been checked, and answers every error in JSON."""

from drf_orjson_renderer.renderers import ORJSONRenderer
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import NotAcceptable, ValidationError
from rest_framework.renderers import BaseRenderer, BrowsableAPIRenderer
from rest_framework.settings import api_settings

from evaluations import downloads


class FileRenderer(BaseRenderer):
    """Only for negotiation: an exported answer is a streamed file, and an error is JSON
    (``ExportApiMixin.finalize_response``)."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return ORJSONRenderer().render(data, accepted_media_type, renderer_context)


class CsvRenderer(FileRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"


class ParquetRenderer(FileRenderer):
    media_type = downloads.CONTENT_TYPES["parquet"]
    format = "parquet"
    charset = None


class ExportApiMixin:
    """For an API view whose GET answers JSON, or the same data as a file."""

    renderer_classes = [ORJSONRenderer, BrowsableAPIRenderer, CsvRenderer, ParquetRenderer]
    format_refusal = None

    def perform_content_negotiation(self, request, force=False):
        asked = request.query_params.get(api_settings.URL_FORMAT_OVERRIDE)
        known = [renderer.format for renderer in self.get_renderers()]
        if asked and asked not in known and not force:
            # Refused in initial(), once the caller is known: DRF would answer 404.
            choices = ", ".join(f for f in known if f != "api")
            self.format_refusal = ValidationError(
                {"format": [f"Unknown format '{asked[:50]}': one of {choices}."]}
            )
            return ORJSONRenderer(), ORJSONRenderer.media_type
        return super().perform_content_negotiation(request, force)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # authentication and the token's scope
        if self.format_refusal is not None:
            raise self.format_refusal
        if self.file_format(request) == "parquet" and not downloads.parquet_available():
            raise NotAcceptable({"format": [downloads.PARQUET_UNAVAILABLE]})

    def finalize_response(self, request, response, *args, **kwargs):
        if self.file_format(request) is not None:
            request.accepted_renderer = ORJSONRenderer()
            request.accepted_media_type = ORJSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)

    @staticmethod
    def file_format(request) -> str | None:
        """``csv`` or ``parquet`` when the answer is a file, else None."""
        renderer = getattr(request, "accepted_renderer", None)
        chosen = getattr(renderer, "format", None)
        return chosen if chosen in downloads.FORMATS else None


def format_parameter(columns) -> OpenApiParameter:
    return OpenApiParameter(
        "format",
        str,
        enum=["json", *downloads.FORMATS],
        description=(
            "`csv` (`text/csv`) or `parquet` (`application/vnd.apache.parquet`, when the "
            "server has pyarrow; else 406): the same data as a file to download, one row "
            f"per {columns}. Any other value answers 400."
        ),
    )


def file_responses(json_answer) -> dict:
    return {
        (200, "application/json"): json_answer,
        (200, "text/csv"): OpenApiTypes.STR,
        (200, downloads.CONTENT_TYPES["parquet"]): OpenApiTypes.BINARY,
    }
