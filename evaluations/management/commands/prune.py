"""prune: remove the runs recorded before a date, after writing them to a file (a dry run
unless told --execute). The work is evaluations.services.retention's."""

import argparse
from datetime import UTC, datetime, time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from evaluations import selectors
from evaluations.services import retention

MAX_BATCH = 1_000_000
# The options the service's arguments come from, to name them in errors.
OPTIONS = {"out": "--out", "file_format": "--format", "project": "--project"}


def _moment(value):
    """A date (midnight UTC) or an ISO 8601 time (UTC unless it names its zone), past."""
    try:
        moment = parse_datetime(value)
        day = parse_date(value) if moment is None else None
    except ValueError:
        moment = day = None
    if day is not None:
        moment = datetime.combine(day, time(), tzinfo=UTC)
    if moment is None:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD) or an ISO 8601 time: {value!r}")
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=UTC)
    if moment > timezone.now():
        raise argparse.ArgumentTypeError(f"{value} is in the future")
    return moment


def _batch_size(value):
    try:
        size = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if not 1 <= size <= MAX_BATCH:
        raise argparse.ArgumentTypeError(f"between 1 and {MAX_BATCH:,}: {value!r}")
    return size


class Command(BaseCommand):
    help = (
        "Remove the evaluation runs recorded before a date, and their results, after writing "
        "them to a CSV or Parquet file. A dry run unless --execute: it says what it would "
        "remove. Never removed: the runs a baseline pin points at (every pin in the "
        "baseline's history, on every branch) and, for each intended-change mark, the "
        "latest run of the marked version on each dataset (a budget counts from it). Models, "
        "versions and series stay."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--before", type=_moment, required=True, metavar="DATE",
            help="Remove runs recorded before this date (YYYY-MM-DD, midnight UTC) or time "
            "(ISO 8601, e.g. 2026-01-01T12:00:00Z); in the past",
        )  # fmt: skip
        parser.add_argument(
            "--project", metavar="P", help="Only this project's runs (default: every project)"
        )
        parser.add_argument(
            "--keep-baselines", action="store_true",
            help="Also keep every other run of each version that is or was a pinned baseline "
            "(on any dataset, branch or environment), not only the pinned runs",
        )  # fmt: skip
        parser.add_argument(
            "--format", dest="file_format", choices=("csv", "parquet"), default="csv",
            help="The file's format (default csv; parquet needs pyarrow installed)",
        )  # fmt: skip
        parser.add_argument(
            "--out", metavar="PATH",
            help="The file to write (it must not exist), or a directory to write it in "
            "(default: the current directory, with a name made of the project, the date and "
            "the time now)",
        )  # fmt: skip
        parser.add_argument(
            "--batch-size", type=_batch_size, default=retention.BATCH_RESULTS, metavar="N",
            help=f"Results removed per transaction (default {retention.BATCH_RESULTS:,}; a "
            "run's results are removed together)",
        )  # fmt: skip
        parser.add_argument(
            "--execute", action="store_true",
            help="Write the file, then remove what it holds (without it: a dry run)",
        )  # fmt: skip

    def handle(self, *args, before, project, keep_baselines, file_format, out, batch_size,
               execute, **options):  # fmt: skip
        scope = retention.PruneScope(
            before=before, project=self._project(project), keep_baselines=keep_baselines
        )
        try:
            path = retention.export_path(scope=scope, out=out, file_format=file_format)
            plan = retention.plan_prune(scope=scope)
            self._print_plan(plan)
            if plan.runs == 0:
                return
            if not execute:
                self.stdout.write(
                    f"Dry run: nothing was removed. With --execute these runs are written to "
                    f"{path}, then removed."
                )
                return
            outcome = retention.prune(
                scope=scope, path=path, file_format=file_format, batch_size=batch_size,
                progress=self._progress,
            )  # fmt: skip
        except retention.RetentionError as exc:
            raise CommandError(f"{OPTIONS.get(exc.field, exc.field)}: {exc.message}") from None
        self._print_outcome(outcome)

    def _project(self, name):
        if name is None:
            return None
        project = selectors.project_named(name=name)
        if project is None:
            names = selectors.project_names()
            known = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
            raise CommandError(f"--project: no project named {name!r} (projects: {known}).")
        return project

    def _print_plan(self, plan):
        scope = plan.scope
        where = f"in project {scope.project.name}" if scope.project else "in every project"
        when = f"{scope.before:%Y-%m-%d %H:%M:%S} UTC"
        if not plan.shares:
            self.stdout.write(f"No runs recorded before {when} {where} to remove.")
        else:
            self.stdout.write(f"To remove: the runs recorded before {when} {where}.")
            self._print_table(plan)
        self._print_kept(plan.kept)

    def _print_table(self, plan):
        header = ("project", "model", "runs", "results", "first (UTC)", "last (UTC)")
        rows = [
            (s.project, s.model, f"{s.runs:,}", f"{s.results:,}", _when(s.first), _when(s.last))
            for s in plan.shares
        ]
        rows.append(
            ("total", "", f"{plan.runs:,}", f"{plan.results:,}", _when(plan.first),
             _when(plan.last))
        )  # fmt: skip
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
        for row in [header, *rows]:
            cells = [
                cell.rjust(width) if index in (2, 3) else cell.ljust(width)
                for index, (cell, width) in enumerate(zip(row, widths, strict=True))
            ]
            self.stdout.write("  ".join(cells).rstrip())
        self.stdout.write("")

    def _print_kept(self, kept):
        reasons = [
            (kept.pinned, "a baseline pin points at"),
            (kept.budget_anchors, "a budget counts from (an intended-change mark's)"),
            (kept.pinned_versions, "of pinned versions (--keep-baselines)"),
        ]
        said = [f"{_runs(count)} {reason}" for count, reason in reasons if count]
        if said:
            self.stdout.write(f"Kept, though recorded before: {'; '.join(said)}.")

    def _progress(self, stage, outcome):
        if stage == "written":  # before anything is removed
            self.stdout.write(
                f"Wrote {outcome.rows:,} results of {_runs(outcome.runs_exported)} to "
                f"{outcome.path} ({outcome.size:,} bytes)."
            )
            self.stdout.flush()
        else:
            self.stderr.write(
                f"batch {outcome.batches:,}: removed {outcome.runs_removed:,} of "
                f"{_runs(outcome.runs_exported)}",
                style_func=str,  # progress, not an error: not in red
            )

    def _print_outcome(self, outcome):
        if outcome.path is None:
            self.stdout.write("Nothing left to remove: no file written.")
            return
        batches = f"{outcome.batches:,} batch{'es' if outcome.batches != 1 else ''}"
        touched, watched = len(outcome.series_touched), len(outcome.series_watched)
        due = (
            "they are due for trend analysis again" if watched == touched
            else f"the {watched:,} on analysed branches are due for trend analysis again"
        )  # fmt: skip
        self.stdout.write(
            f"Removed {_runs(outcome.runs_removed)} and {outcome.results_removed:,} results "
            f"in {batches}. {touched:,} series lost points; {due}."
        )
        if outcome.runs_spared:
            self.stdout.write(
                f"Kept {_runs(outcome.runs_spared)} the file holds: pinned or marked while "
                "the prune ran."
            )


def _when(moment):
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M}" if moment else ""


def _runs(count):
    return f"{count:,} run{'s' if count != 1 else ''}"
