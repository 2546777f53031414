"""Model fields of the project's own."""

import orjson
from django.db import models


class DocumentField(models.JSONField):
    """A JSON document written once and read whole (a run's verdict), kept in PostgreSQL as
    ``json``, the text as written, rather than ``jsonb``: converting to jsonb costs more than
    the rest of storing it (15 ms for the verdict of a run of 1,000 results, 450 kB), and
    nothing queries inside it. Other databases keep it as JSONField does."""

    def db_type(self, connection):
        return "json" if connection.vendor == "postgresql" else super().db_type(connection)

    def from_db_value(self, value, expression, connection):
        if isinstance(value, str | bytes):
            return orjson.loads(value)
        return value  # psycopg2 parses json columns itself
