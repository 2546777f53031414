"""A JSON parser that keeps NaN/Infinity visible to validation.

Python's json module accepts the non-standard literals NaN and Infinity. Rather than
refusing the whole body with a generic parse error, they become a marker that the field
validators reject by name (``metrics[0].value: must be a finite number``).

Documents nested deeper than ``MAX_DEPTH`` are refused here, for every endpoint: Python's
decoder would otherwise exhaust the stack (a 500). The bound is generous so that a field's own,
tighter bound (``metadata``: 32 levels) can name the field.
"""

import json

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_DEPTH = 512


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


class StrictJSONParser(JSONParser):
    """JSON with NaN/Infinity kept as markers. The body size is bounded before parsing by
    DATA_UPLOAD_MAX_MEMORY_SIZE (see the API's exception handler for the 413)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            text = stream.read().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ParseError(f"Request body is not UTF-8: {exc}") from None
        too_deep = ParseError(f"JSON nested deeper than {MAX_DEPTH} levels.")
        try:
            data = json.loads(text, parse_constant=_parse_constant, parse_float=_parse_float)
        except ValueError as exc:
            raise ParseError(f"Malformed JSON: {exc}") from None
        except RecursionError:
            raise too_deep from None
        # Fewer brackets than levels cannot nest too deep: most bodies skip the walk.
        if text.count("[") + text.count("{") > MAX_DEPTH and nested_deeper(data, MAX_DEPTH):
            raise too_deep
        return data


def nested_deeper(data, limit):
    """Whether containers nest deeper than ``limit``; a walk over containers only, without
    recursion."""
    level, depth = [data] if isinstance(data, dict | list) else [], 0
    while level:
        depth += 1
        if depth > limit:
            return True
        level = [
            child
            for item in level
            for child in (item.values() if isinstance(item, dict) else item)
            if isinstance(child, dict | list)
        ]
    return False
