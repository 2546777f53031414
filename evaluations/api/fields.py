"""Strict input fields: CI posts numbers as numbers, names as printable text, and metadata
as JSON that PostgreSQL stores and the API can answer again."""

import math
import unicodedata

import orjson
from django.core import validators
from rest_framework import serializers
from rest_framework.validators import ProhibitSurrogateCharactersValidator

from evaluations.models import NAME_MAX_LENGTH

from .parsers import NonFinite, nested_deeper


def reject_control_characters(value):
    if any(unicodedata.category(char) == "Cc" for char in value):
        raise serializers.ValidationError("Must not contain control characters.")


class NameField(serializers.CharField):
    """A name or label: 1-200 printable characters; finite numbers are taken as text
    (version 2), NaN and ±Infinity are refused (not stored as a version "nan")."""

    default_error_messages = {"non_finite": "Must be text, not {literal}."}

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", NAME_MAX_LENGTH)
        super().__init__(**kwargs)
        self.validators.append(reject_control_characters)

    def to_internal_value(self, data):
        if isinstance(data, NonFinite):
            self.fail("non_finite", literal=data.literal)
        return super().to_internal_value(data)


class OutcomesField(serializers.CharField):
    """Base64 text of up to millions of characters. DRF's CharField checks every character
    for NUL and surrogates in a Python loop (30 ms per million examples); base64 is ASCII, and
    one check for that in C stands in for both. The base64 itself is decoded and checked
    later, against the number of examples (``stats.packed_outcomes``)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators = [
            validator
            for validator in self.validators
            if not isinstance(
                validator,
                (validators.ProhibitNullCharactersValidator, ProhibitSurrogateCharactersValidator),
            )
        ]

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not value.isascii():
            raise serializers.ValidationError("Must be base64 text (ASCII only).")
        return value


class ChoiceField(serializers.ChoiceField):
    """DRF's ChoiceField, whose error quotes the input with lone surrogates escaped (DRF's own
    quotes it as it came, which the answer cannot then be written with)."""

    def to_internal_value(self, data):
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError:
            self.fail("invalid_choice", input=printable(str(data)))


class StrictFloatField(serializers.FloatField):
    """A finite JSON number. Strings, booleans, NaN and ±Infinity are refused."""

    default_error_messages = {
        "invalid": "Must be a number, not {kind}.",
        "non_finite": "Must be a finite number, not {literal}.",
    }

    def to_internal_value(self, data):
        if isinstance(data, NonFinite):
            self.fail("non_finite", literal=data.literal)
        if isinstance(data, bool) or not isinstance(data, (int, float)):
            self.fail("invalid", kind=_json_kind(data))
        try:
            value = float(data)
        except OverflowError:  # an integer literal beyond the float range, e.g. 10**400
            self.fail("non_finite", literal=f"an integer of {len(str(abs(data)))} digits")
        if not math.isfinite(value):
            self.fail("non_finite", literal=repr(data))
        return super().to_internal_value(value)


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer (10000 or 10000.0). Strings and booleans are refused."""

    default_error_messages = {"invalid": "Must be an integer, not {kind}."}

    def to_internal_value(self, data):
        if isinstance(data, float) and not isinstance(data, NonFinite) and data.is_integer():
            data = int(data)
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid", kind=_json_kind(data))
        return super().to_internal_value(data)


def _json_kind(data):
    if isinstance(data, NonFinite):
        return data.literal
    if isinstance(data, bool):
        return "a boolean"
    if isinstance(data, str):
        return "a string"
    if data is None:
        return "null"
    if isinstance(data, (list, tuple)):
        return "a list"
    if isinstance(data, dict):
        return "an object"
    return f"{data!r}"


# Metadata is stored as jsonb and answered again by orjson: both refuse NUL characters and
# lone surrogates, orjson refuses integers beyond 64 bits and nesting beyond 254 levels.
METADATA_MAX_DEPTH = 32
METADATA_MAX_BYTES = 64 * 1024
_INT64 = (-(2**63), 2**63 - 1)


class MetadataField(serializers.DictField):
    """A JSON object of provenance, at most 32 levels deep and 64 kB as JSON, whose text holds
    no NUL character or lone surrogate and whose integers fit in 64 bits."""

    default_error_messages = {
        "too_deep": f"Must not nest deeper than {METADATA_MAX_DEPTH} levels.",
        "too_big": f"Must be at most {METADATA_MAX_BYTES} bytes as JSON.",
    }

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if nested_deeper(value, METADATA_MAX_DEPTH):
            self.fail("too_deep")
        problem = json_value_problem(value)
        if problem:
            raise serializers.ValidationError(problem)
        if len(orjson.dumps(value)) > METADATA_MAX_BYTES:
            self.fail("too_big")
        return value


def json_value_problem(value, path=""):
    """``"path: message"`` for the first value PostgreSQL or the answer could not hold
    (NaN/Infinity, NUL, lone surrogates, integers beyond 64 bits); None when all is well."""
    stack = [(path, value)]
    while stack:
        where, item = stack.pop()
        problem = _scalar_problem(item)
        if problem:
            return f"{where or '(root)'}: {problem}"
        if isinstance(item, dict):
            for key, child in item.items():
                child_path = f"{where}.{printable(key)}" if where else printable(key)
                problem = _text_problem(key)
                if problem:
                    return f"{child_path}: the key {problem}"
                stack.append((child_path, child))
        elif isinstance(item, list):
            stack.extend((f"{where}.{index}", child) for index, child in enumerate(item))
    return None


def _scalar_problem(item):
    if isinstance(item, float) and not math.isfinite(item):
        return "NaN and Infinity are not valid JSON numbers."
    if isinstance(item, float) and not -(2.0**63) < item < 2.0**63:
        # PostgreSQL keeps 1e20 as the integer 100000000000000000000, which reads back as one.
        return "Numbers must be below 2**63 in magnitude."
    if isinstance(item, int) and not isinstance(item, bool) and not _INT64[0] <= item <= _INT64[1]:
        return "Integers must fit in 64 bits (-2**63 to 2**63-1)."
    if isinstance(item, str):
        return _text_problem(item)
    return None


def _text_problem(text):
    if "\x00" in text:
        return "must not contain NUL (\\u0000) characters."
    if _has_surrogate(text):
        return "must not contain lone surrogates (\\ud800-\\udfff)."
    return None


def _has_surrogate(text):
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def printable(text):
    """``text`` with NUL characters and lone surrogates escaped, for an error message that
    names it (a surrogate cannot be written as UTF-8)."""
    return text.replace("\x00", "\\u0000").encode("utf-8", "backslashreplace").decode("utf-8")
