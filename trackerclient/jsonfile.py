"""Reading the JSON files the client is given (a run body, a baseline file), with errors that
name the file and the field: ``baselines.json: rules[0].max_drop: must be a number or null``.
"""

import json
import math
from pathlib import Path

REQUIRED = object()  # the default of a field that must be present and not null


class InvalidFile(ValueError):
    """A file the client cannot use; the message names the file and the field."""


def read_object(path) -> dict:
    """The JSON object in the file at ``path``. NaN and Infinity are refused, as the server
    refuses them."""
    name = Path(path).name
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidFile(f"{path}: cannot read it ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise InvalidFile(f"{path}: not UTF-8 text") from None
    try:
        data = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        raise InvalidFile(f"{name}: not valid JSON: {exc}") from None
    except ValueError as exc:
        raise InvalidFile(f"{name}: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidFile(f"{name}: must hold a JSON object, not {_kind(data)}")
    return data


def _refuse_constant(literal):
    raise ValueError(f"{literal} is not a number JSON allows (metrics must be finite)")


def _finite_float(literal):
    value = float(literal)
    if not math.isfinite(value):
        raise ValueError(f"{literal} is too large for a number")
    return value


class Fields:
    """A JSON object under validation, and where it sits in its file (``metrics[2].``)."""

    def __init__(self, data, file, where=""):
        self.data, self.file, self.where = data, file, where

    def error(self, key, message) -> InvalidFile:
        return InvalidFile(f"{self.file}: {self.where}{key}: {message}")

    def get(self, key, default, check, expected):
        value = self.data.get(key)
        if value is None:
            if default is REQUIRED:
                raise self.error(key, "is required" if key not in self.data else "must not be null")
            return default
        converted = check(value)
        if converted is None:
            null = " or null" if default is not REQUIRED else ""
            raise self.error(key, f"must be {expected}{null}, not {_kind(value)}")
        return converted

    def text(self, key, default=REQUIRED) -> str:
        """A name or label; numbers are taken as text (version 2), as the server takes them."""
        return self.get(key, default, _text, "a non-empty string")

    def number(self, key, default=REQUIRED) -> float:
        return self.get(key, default, _number, "a finite number")

    def count(self, key, default=REQUIRED) -> int:
        return self.get(key, default, _count, "a positive integer")

    def choice(self, key, choices, default=REQUIRED) -> str:
        value = self.text(key, default)
        if value is not default and value not in choices:
            raise self.error(key, f"must be one of {', '.join(choices)}, not {value!r}")
        return value

    def object(self, key) -> "Fields":
        value = self.get(key, REQUIRED, _object, "an object")
        return Fields(value, self.file, f"{self.where}{key}.")

    def objects(self, key) -> list["Fields"]:
        """The objects of a list field, each knowing its place (``rules[3].``)."""
        items = self.get(key, REQUIRED, _list, "a list")
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                raise self.error(f"{key}[{index}]", f"must be an object, not {_kind(item)}")
        return [
            Fields(item, self.file, f"{self.where}{key}[{index}].")
            for index, item in enumerate(items)
        ]

    def refuse_unknown(self, known):
        unknown = sorted(set(self.data) - set(known))
        if unknown:
            raise InvalidFile(
                f"{self.file}: {self.where}{unknown[0]}: unknown field (known: {', '.join(known)})"
            )


def _text(value):
    if isinstance(value, str):
        return value if value else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _number(value):
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) if math.isfinite(value) else None
    return None


def _count(value):
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    return None


def _object(value):
    return value if isinstance(value, dict) else None


def _list(value):
    return value if isinstance(value, list) else None


def _kind(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {value!r}" if len(value) <= 40 else "a long string"
    return {dict: "an object", list: "a list"}.get(type(value), type(value).__name__)
