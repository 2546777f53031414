"""Retention: removing the runs recorded before a time, after writing them to a file.

``plan_prune`` says what a prune would remove (the dry run). ``prune`` first writes those runs'
results to a CSV or Parquet file with the runs export's columns (``selectors.run_results_table``
streamed by ``downloads``), into a temporary file beside the target that is fsync'd and then
renamed into place; only then does it delete, and only the runs that file holds, a batch of
them per transaction, so that a prune can be stopped and run again. It never removes the runs
the regression gate reads (``selectors.retained``). Series and versions stay: findings, marks,
experiments and pins refer to them, and pages show a series with fewer points (or none); the
series that lost points are due for trend analysis again, and the replicate sets the removed
runs were members of are summarised from the seeds left (``services.removal``).
"""

import contextlib
import logging
import os
import struct
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from django.db import connection, transaction
from django.utils import timezone

from evaluations import downloads, selectors
from evaluations.models import EvaluationRun, Project
from evaluations.queue import queue_analysis
from evaluations.services import removal

log = logging.getLogger(__name__)

# Results removed per transaction, unless told otherwise (a run's results are never split).
BATCH_RESULTS = 10_000
# A run's id and its number of results, as the export notes them in a spool file.
_NOTE = struct.Struct("<qq")


class RetentionError(Exception):
    """A prune refused before it removed anything; ``field`` names the argument at fault."""

    def __init__(self, field, message):
        super().__init__(message)
        self.field, self.message = field, message


@dataclass(frozen=True)
class PruneScope:
    """What a prune is about: the runs recorded before ``before``, in ``project`` (or in
    every project); with ``keep_baselines`` it also keeps every run of a pinned version."""

    before: datetime
    project: Project | None = None
    keep_baselines: bool = False

    def runs(self):
        return selectors.prunable_runs(
            before=self.before, project=self.project, keep_baselines=self.keep_baselines
        )


@dataclass(frozen=True)
class PrunePlan:
    """What a prune would remove, per project and model, and what it keeps."""

    scope: PruneScope
    shares: list[selectors.ModelShare]
    kept: selectors.KeptRuns

    @property
    def runs(self) -> int:
        return sum(share.runs for share in self.shares)

    @property
    def results(self) -> int:
        return sum(share.results for share in self.shares)

    @property
    def first(self) -> datetime | None:
        return min((share.first for share in self.shares), default=None)

    @property
    def last(self) -> datetime | None:
        return max((share.last for share in self.shares), default=None)


@dataclass
class PruneOutcome:
    """What a prune did: the file it wrote (None when there was nothing to remove), and what
    it removed after writing it."""

    path: Path | None = None
    size: int = 0  # bytes
    rows: int = 0  # results written
    runs_exported: int = 0
    runs_removed: int = 0
    results_removed: int = 0
    batches: int = 0
    series_touched: set = field(default_factory=set)  # that lost points
    series_watched: set = field(default_factory=set)  # of those, analysed ones: due again
    series_queued: set = field(default_factory=set)  # of those, not yet due: a job queued

    @property
    def runs_spared(self) -> int:
        """Runs written to the file but kept: pinned (or marked) while the prune ran."""
        return self.runs_exported - self.runs_removed


def plan_prune(*, scope: PruneScope) -> PrunePlan:
    """What ``prune`` would remove now (a few queries; nothing is written)."""
    return PrunePlan(
        scope=scope,
        shares=selectors.model_shares(scope.runs()),
        kept=selectors.kept_runs(
            before=scope.before, project=scope.project, keep_baselines=scope.keep_baselines
        ),
    )


def export_path(*, scope: PruneScope, out: str | None, file_format: str, now=None) -> Path:
    """The file a prune writes: ``out``, or a file named after the scope in the directory
    ``out`` names (the current one without it). Refused (RetentionError) when the format
    cannot be written, the directory is missing or not writable, or the file exists: an
    earlier prune's file is never overwritten."""
    if file_format not in downloads.FORMATS:
        raise RetentionError("file_format", f"one of {', '.join(downloads.FORMATS)}.")
    if file_format == "parquet" and not downloads.parquet_available():
        raise RetentionError(
            "file_format",
            "Parquet needs pyarrow, which is not installed: pip install pyarrow (the version "
            "in requirements-dev.txt), or write csv.",
        )
    path = Path(os.path.abspath(Path(out or ".").expanduser()))
    if out is None or path.is_dir():
        path = path / default_name(scope=scope, file_format=file_format, now=now)
    directory = path.parent
    if not directory.is_dir():
        raise RetentionError("out", f"{directory} is not a directory.")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise RetentionError("out", f"{directory} is not writable.")
    if path.exists():
        raise RetentionError("out", f"{path} exists; name another file.")
    return path


def default_name(*, scope: PruneScope, file_format: str, now=None) -> str:
    now = now or timezone.now()
    words = (
        "pruned", scope.project.name if scope.project else "all-projects", "before",
        f"{scope.before:%Y-%m-%dT%H%M%SZ}", "at", f"{now:%Y%m%dT%H%M%SZ}",
    )  # fmt: skip
    return downloads.safe_filename(words, file_format)


def prune(
    *, scope: PruneScope, path: Path, file_format: str, batch_size: int = BATCH_RESULTS,
    progress: Callable[[str, PruneOutcome], None] | None = None,
) -> PruneOutcome:  # fmt: skip
    """Write the runs ``scope`` covers to ``path``, then remove them, ``batch_size`` results a
    transaction; ``progress`` is told when the file is written (``"written"``) and after each
    batch (``"batch"``). Nothing is removed unless the whole file was written: a failure to
    write it raises RetentionError and leaves no file behind."""
    progress = progress or (lambda stage, outcome: None)
    outcome = PruneOutcome()
    with tempfile.TemporaryFile() as spool:
        table = selectors.run_results_table(runs=scope.runs(), name=(), capped=False)
        noted = _noted(table.rows, spool, outcome)
        _write_file(path, _chunks(replace(table, rows=noted), file_format))
        if outcome.runs_exported == 0:
            path.unlink()
            return outcome
        outcome.path, outcome.size = path, path.stat().st_size
        progress("written", outcome)
        spool.seek(0)
        try:
            for batch in _batches(_notes(spool), batch_size):
                _remove_batch(scope, batch, outcome)
                progress("batch", outcome)
        finally:  # stopped or not, what was removed is analysed again
            _queue_analysis(outcome.series_queued)
    return outcome


def _queue_analysis(series_ids):
    """Queue the series' analysis; a broker that is down leaves them to beat's sweep (they
    are marked due), as for a post."""
    if not series_ids:
        return
    try:
        queue_analysis(sorted(series_ids))
    except Exception:
        log.exception("could not queue the analysis of %d pruned series", len(series_ids))


def _chunks(table, file_format) -> Iterator[bytes]:
    if file_format == "csv":
        return downloads.csv_chunks(table)
    return downloads.parquet_chunks(table)


def _noted(rows: Iterable[tuple], spool, outcome: PruneOutcome) -> Iterator[tuple]:
    """``rows`` (a run's results together, its id first), noting each run's id and number of
    results in ``spool`` as they pass: what the file holds is what is then removed, whatever
    was stored meanwhile."""
    run_id, count = None, 0
    for row in rows:
        if row[0] != run_id:
            if run_id is not None:
                spool.write(_NOTE.pack(run_id, count))
                outcome.runs_exported += 1
            run_id, count = row[0], 0
        count += 1
        outcome.rows += 1
        yield row
    if run_id is not None:
        spool.write(_NOTE.pack(run_id, count))
        outcome.runs_exported += 1


def _notes(spool) -> Iterator[tuple[int, int]]:
    while data := spool.read(_NOTE.size * 1024):
        yield from _NOTE.iter_unpack(data)


def _batches(notes, batch_size) -> Iterator[list[int]]:
    """Run ids in batches of at most ``batch_size`` results (a bigger run alone)."""
    batch, results = [], 0
    for run_id, count in notes:
        if batch and results + count > batch_size:
            yield batch
            batch, results = [], 0
        batch.append(run_id)
        results += count
    if batch:
        yield batch


def _write_file(path: Path, chunks: Iterable[bytes]):
    """``chunks`` as ``path``, all or nothing: written to a temporary file beside it, flushed
    to disk, then renamed into place (and the rename flushed)."""
    temporary = None
    try:
        descriptor, temporary = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".partial"
        )
        with os.fdopen(descriptor, "wb") as file:
            for chunk in chunks:
                file.write(chunk)
            file.flush()
            os.fsync(file.fileno())
        if path.exists():
            raise FileExistsError(f"{path} appeared meanwhile")
        os.replace(temporary, path)
        temporary = None
        _fsync_directory(path.parent)
    except OSError as exc:
        raise RetentionError(
            "out", f"could not write {path}: {exc.strerror or exc}; nothing was removed."
        ) from exc
    finally:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)


def _fsync_directory(directory: Path):
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _remove_batch(scope: PruneScope, run_ids: list[int], outcome: PruneOutcome):
    """Remove the runs among ``run_ids`` still not kept (a pin or a mark made since the file
    was written keeps its run), with their results, in one transaction (``removal``: their
    series are due for analysis again, their replicate sets summarised again)."""
    with transaction.atomic():
        ids = list(
            EvaluationRun.objects.filter(pk__in=run_ids)
            .exclude(selectors.retained(keep_baselines=scope.keep_baselines))
            .values_list("pk", flat=True)
        )
        removed = removal.remove_runs(run_ids=ids, delete_runs=_delete_runs)
    # Counted once committed.
    outcome.batches += 1
    outcome.runs_removed += removed.runs
    outcome.results_removed += removed.results
    outcome.series_touched.update(removed.series_ids)
    outcome.series_watched.update(removed.watched)
    outcome.series_queued.update(removed.needing_job)


def _delete_runs(ids) -> int:
    """Delete the runs, their results already gone. In SQL rather than the ORM's delete, which
    would delete a pin made meanwhile along with its run (a cascade): this way the database's
    foreign key refuses the batch instead (the prune stops; run again, it keeps that run)."""
    if not ids:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {EvaluationRun._meta.db_table} WHERE id IN "
            f"({', '.join(['%s'] * len(ids))})",
            ids,
        )
        return cursor.rowcount
