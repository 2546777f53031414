"""Tables (``selectors.exports``) as files to download, for the API and the pages alike: CSV
written as the answer streams, a thousand rows at a time, and Parquet, when pyarrow is
installed, one row group at a time; neither holds the whole file in memory."""

import csv
import importlib.util
import io
import re
from datetime import UTC
from functools import cache
from itertools import islice

from django.http import StreamingHttpResponse
from django.utils.http import content_disposition_header

FORMATS = ("csv", "parquet")
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet"}
CSV_FLUSH_ROWS = 1000
PARQUET_GROUP_ROWS = 10_000
PARQUET_UNAVAILABLE = (
    "Parquet needs pyarrow, which is not installed on this server; ask for format=csv."
)

# A spreadsheet runs a cell that starts with one of these as a formula ("CSV injection"; tab
# and carriage return too, which some strip first). Text cells that do get a leading
# apostrophe, as OWASP advises; number cells are written as numbers.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@cache
def parquet_available() -> bool:
    return importlib.util.find_spec("pyarrow") is not None


def file_response(table, file_format: str) -> StreamingHttpResponse:
    """``table`` as an attachment in ``file_format`` (one of ``FORMATS``)."""
    chunks = csv_chunks(table) if file_format == "csv" else parquet_chunks(table)
    response = StreamingHttpResponse(chunks, content_type=CONTENT_TYPES[file_format])
    response["Content-Disposition"] = content_disposition_header(
        True, safe_filename(table.name, file_format)
    )
    # A project's data: neither a shared cache nor the browser's keeps a copy.
    response["Cache-Control"] = "private, no-store"
    return response


def safe_filename(words, extension: str) -> str:
    """The words joined by dashes, anything but letters, digits, dots, dashes and underscores
    replaced, short enough for every file system."""
    stem = "-".join(re.sub(r"[^A-Za-z0-9._-]+", "_", word) for word in words if word)
    stem = stem.strip("._-")[:120] or "export"
    return f"{stem}.{extension}"


def _time(moment):
    """UTC with a Z, microseconds only when there are any: as the JSON answers write it."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _boolean(value):
    return "true" if value else "false"


def csv_chunks(table):
    """The header, then the rows, as UTF-8 bytes in chunks of ``CSV_FLUSH_ROWS`` rows. Empty
    cells are None; numbers are written as Python writes them, the shortest text that reads
    back the same. The loop is written out: it runs once per cell of exports of a million."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([column.name for column in table.columns])
    kinds = [column.kind for column in table.columns]
    texts = [index for index, kind in enumerate(kinds) if kind == "text"]
    others = [(index, _time if kind == "time" else _boolean)
              for index, kind in enumerate(kinds) if kind in ("time", "bool")]  # fmt: skip
    starts = frozenset("".join(FORMULA_STARTS))
    for rows in batched(table.rows, CSV_FLUSH_ROWS):
        for row in rows:
            cells = list(row)
            for index in texts:
                text = cells[index]
                if text and text[0] in starts:
                    cells[index] = "'" + text
            for index, written in others:
                if cells[index] is not None:
                    cells[index] = written(cells[index])
            writer.writerow(cells)
        yield _drain(buffer)
    yield _drain(buffer)


def batched(rows, size):
    """``rows`` in tuples of ``size`` (the last shorter); itertools has it from Python 3.12."""
    rows = iter(rows)
    while batch := tuple(islice(rows, size)):
        yield batch


def _drain(buffer: io.StringIO) -> bytes:
    data = buffer.getvalue().encode()
    buffer.seek(0)
    buffer.truncate()
    return data


def parquet_chunks(table):
    """The rows as a Parquet file, typed by column, yielded as each row group is written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    types = {
        "text": pa.string(), "int": pa.int64(), "float": pa.float64(),
        "time": pa.timestamp("us", tz="UTC"), "bool": pa.bool_(),
    }  # fmt: skip
    schema = pa.schema([(column.name, types[column.kind]) for column in table.columns])
    sink = _Sink()
    with pq.ParquetWriter(sink, schema, compression="zstd") as writer:
        for rows in batched(table.rows, PARQUET_GROUP_ROWS):
            arrays = [
                pa.array(values, type=field.type)
                for values, field in zip(zip(*rows, strict=True), schema, strict=True)
            ]
            writer.write_batch(pa.record_batch(arrays, schema=schema))
            yield sink.take()
    yield sink.take()


class _Sink:
    """A write-only file that hands over what was written since it was last asked."""

    closed = False

    def __init__(self):
        self.parts, self.position = [], 0

    def write(self, data):
        self.parts.append(bytes(data))
        self.position += len(data)
        return len(data)

    def tell(self):
        return self.position

    def flush(self):
        pass

    def close(self):
        self.closed = True

    def take(self) -> bytes:
        data, self.parts = b"".join(self.parts), []
        return data
