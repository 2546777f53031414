"""Strict input fields: CI posts numbers as numbers and names as printable text."""

import math
import unicodedata

from django.core import validators
from rest_framework import serializers
from rest_framework.validators import ProhibitSurrogateCharactersValidator

from evaluations.models import NAME_MAX_LENGTH

from .parsers import NonFinite


def reject_control_characters(value):
    if any(unicodedata.category(char) == "Cc" for char in value):
        raise serializers.ValidationError("Must not contain control characters.")


class NameField(serializers.CharField):
    """A name or label: 1-200 printable characters; numbers are taken as text (version 2)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", NAME_MAX_LENGTH)
        super().__init__(**kwargs)
        self.validators.append(reject_control_characters)


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
        value = float(data)
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


def find_non_finite(value, path=""):
    """The path of the first NaN/Infinity inside a JSON document, or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return path or "(root)"
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = find_non_finite(item, f"{path}.{key}" if path else str(key))
        if found:
            return found
    return None
