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


def point_encoder(version, run_id, at):
    """``encode_point`` for the results of one run, as a function of (value, n, ci_low,
    ci_high) answering text: the run's fields are encoded once, each result's four in one
    call (a thousand results of a post take a third of the time). The same bytes as
    ``encode_point`` (tests/test_ingest_copy.py)."""
    head = '{"version":' + orjson.dumps(version).decode() + ',"value":'
    tail = (
        f',"run_id":{orjson.dumps(run_id).decode()},"at":'
        f"{orjson.dumps(at.astimezone(UTC), option=orjson.OPT_UTC_Z).decode()}}}"
    )

    def encode(value, n, ci_low, ci_high):
        # Numbers and null hold no comma: the array's items are its comma-separated parts.
        value, n, ci_low, ci_high = orjson.dumps((value, n, ci_low, ci_high))[1:-1].split(b",")
        return (
            f'{head}{value.decode()},"n":{n.decode()},"ci_low":{ci_low.decode()},'
            f'"ci_high":{ci_high.decode()}{tail}'
        )

    return encode


# The series API's points also say how many seeds each one merges and their spread; a single
# run's stored text lacks these two keys, which reads append (``with_single_run``).
REPLICATE_FIELDS = ("replicates", "sd")
SINGLE_RUN = ',"replicates":1,"sd":null}'


def with_single_run(point: str) -> str:
    """A single run's stored point with the replicate keys a series read answers."""
    return point[:-1] + SINGLE_RUN


def encode_replicate_point(version, summary, run_id, at) -> bytes:
    """A replicate set's point (``trackerclient.replicates.Summary``): its mean as the value,
    its interval, and the seeds' count and spread; at the time of its latest run."""
    point = encode_point(version, summary.mean, summary.n, summary.ci_low, summary.ci_high,
                         run_id, at)  # fmt: skip
    extra = orjson.dumps({"replicates": summary.replicates, "sd": summary.sd})
    return point[:-1] + b"," + extra[1:]
