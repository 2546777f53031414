"""A series point as the series API writes it: one JSON object per metric result.

Ingestion stores each result's point beside it (``MetricResult.point``), so that reading a
whole series is one index scan that concatenates stored text; the reads that add new points
to a cached series encode them here too. Results stored without one (rows loaded by other
means) are written by PostgreSQL at read time, to the same text (see selectors/series.py).
"""

from datetime import UTC

import orjson

POINT_FIELDS = ("version", "value", "n", "ci_low", "ci_high", "run_id", "at")


def encode_point(version, value, n, ci_low, ci_high, run_id, at) -> bytes:
    """The point's JSON: times in UTC with a Z, microseconds only when there are any."""
    fields = (version, value, n, ci_low, ci_high, run_id, at.astimezone(UTC))
    return orjson.dumps(dict(zip(POINT_FIELDS, fields, strict=True)), option=orjson.OPT_UTC_Z)
