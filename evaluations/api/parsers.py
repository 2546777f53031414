"""A JSON parser that bounds the body and keeps NaN/Infinity visible to validation.

Python's json module accepts the non-standard literals NaN and Infinity. Rather than
refusing the whole body with a generic parse error, they become a marker that the field
validators reject by name (``metrics[0].value: must be a finite number``).
"""

import json

from django.conf import settings
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser


class PayloadTooLarge(APIException):
    status_code = 413
    default_detail = "Request body is too large."
    default_code = "payload_too_large"


class NonFinite(float):
    """A NaN or ±Infinity that arrived in the body; fields reject it by name."""

    def __new__(cls, literal):
        value = super().__new__(cls, literal)
        value.literal = literal
        return value


def _parse_constant(literal):
    return NonFinite(literal)


def _parse_float(text):
    value = float(text)
    # 1e999 overflows to inf; keep it recognisable as non-finite too.
    return value if value not in (float("inf"), float("-inf")) else NonFinite(text)


class BoundedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.MAX_RUN_BODY_BYTES
        request = (parser_context or {}).get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        if declared and declared.isdigit() and int(declared) > limit:
            raise PayloadTooLarge(f"Request body is over the limit of {limit} bytes.")
        body = stream.read(limit + 1) if stream is not None else b""
        if len(body) > limit:
            raise PayloadTooLarge(f"Request body is over the limit of {limit} bytes.")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ParseError(f"Request body is not UTF-8: {exc}") from None
        try:
            return json.loads(text, parse_constant=_parse_constant, parse_float=_parse_float)
        except ValueError as exc:
            raise ParseError(f"Malformed JSON: {exc}") from None
