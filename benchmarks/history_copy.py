"""Writing ``history_data`` plans into the real tables with COPY, as ingestion would have
stored them: projects, datasets, metric definitions, models, branches, versions, runs (with
their verdicts), series (analysed after their last point when watched) and results, each with
its point's JSON as ingestion encodes it (``point_encoder``). Versions, runs and results go in
time order, as CI posted them, so that a series' points lie among everyone else's as after
years of posts. The results' indexes and keys are made after their COPY, in one sort each.
"""

import io
import secrets
import time
from contextlib import contextmanager
from datetime import datetime, timedelta

import numpy as np
import orjson

from evaluations.analysis.sensitivity import DEFAULT_SENSITIVITY

from .history_data import START, values_of

RESULT_COLUMNS = (
    "run_id", "series_id", "model_version_id", "value", "n", "ci_low", "ci_high", "recorded_at",
    "point",
)  # fmt: skip
RUN_COLUMNS = (
    "id", "project_id", "model_version_id", "dataset_id", "environment", "seed", "started_at",
    "finished_at", "recorded_at", "commit", "branch", "base_branch", "ci_url", "metadata",
    "external_id", "payload_digest", "created_at", "gate_verdict",
)  # fmt: skip
SERIES_COLUMNS = (
    "id", "model_id", "dataset_id", "metric_id", "slice", "branch_id", "environment", "watched",
    "dirty", "touched_at", "generation", "analysed_at", "analysis_count", "analysis_error",
    "analysis_failures",
)  # fmt: skip


def generate(plans, log=print):
    """Write the plans' rows into the database Django is connected to, after whatever it
    holds; answers the number of results written."""
    from django.db import connection

    from trackerclient import metric_catalog

    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '1GB'")
        ids = write_catalogue(cursor, plans, metric_catalog)
        runs = write_versions_and_runs(cursor, plans, ids)
        blocks = write_series(cursor, plans, ids, runs)
        log(f"  {len(runs):,} runs, {sum(b.size for b in blocks.values()):,} series")
        counter = Counter(log)
        with without_indexes(cursor, "evaluations_metricresult", log):
            lines = result_lines(plans, runs, blocks, counter)
            copy(cursor, "evaluations_metricresult", RESULT_COLUMNS, Lines(lines))
            log(f"  {counter.count:,} results in {counter.seconds():.0f} s; indexes and keys:")
    return counter.count


def write_catalogue(cursor, plans, catalogue):
    """Projects, datasets, metric definitions, models and branches; their ids by key."""
    ids = {}
    projects = {plan.project: None for plan in plans}
    ids["project"] = copy_keyed(
        cursor, "evaluations_project", projects,
        ("name", "created_at", "default_branch", "long_lived_branches", "analyse_every_branch",
         "archive_branches_after_days", "sensitivity"),
        lambda name, _: (name, START, "main", ["release/*", "release-*"], False, 30,
                         DEFAULT_SENSITIVITY),
    )  # fmt: skip
    datasets = {}
    for plan in plans:
        for name, version, size in plan.datasets:
            for label in (
                sorted({str(t.year) for t in plan.times}) if version is None else [version]
            ):
                datasets[(plan.project, name, label)] = size
    ids["dataset"] = copy_keyed(
        cursor, "evaluations_evaluationdataset", datasets,
        ("project_id", "name", "version", "size", "created_at"),
        lambda key, size: (ids["project"][key[0]], key[1], key[2], size, START),
    )  # fmt: skip
    metrics = {}
    for plan in plans:
        for metric in plan.metrics:
            known = catalogue.defaults_for(metric.name)
            unit = known.unit if metric.unit is None else metric.unit
            row = (known.kind, metric.direction or known.direction, unit)
            metrics.setdefault((plan.project, metric.name), row)
    ids["metric"] = copy_keyed(
        cursor, "evaluations_metricdefinition", metrics,
        ("project_id", "name", "kind", "direction", "unit"),
        lambda key, row: (ids["project"][key[0]], key[1], *row),
    )  # fmt: skip
    ids["model"] = copy_keyed(
        cursor, "evaluations_registeredmodel",
        {(plan.project, plan.name): plan.times[0] for plan in plans},
        ("project_id", "name", "created_at"),
        lambda key, at: (ids["project"][key[0]], key[1], at),
    )  # fmt: skip
    seen = {}
    for plan in plans:
        for at, name in zip(plan.times, plan.branches, strict=True):
            key = (plan.project, plan.name, name)
            seen[key] = (seen.get(key, (at,))[0], at)
    ids["branch"] = copy_keyed(
        cursor, "evaluations_branch", seen,
        ("model_id", "name", "long_lived", "first_seen_at", "merged_at", "merged_by"),
        lambda key, times: (ids["model"][key[:2]], key[2], False, times[0], *merged(key, times)),
    )  # fmt: skip
    return ids


def merged(key, times):
    """A pull request's branch merged six hours after its last run."""
    if key[2] == "main":
        return None, ""
    return times[1] + timedelta(hours=6), "ci"


def write_versions_and_runs(cursor, plans, ids):
    """Every version and run, in time order; the runs as tuples (time, plan index, version
    index, dataset index, run id, version id, dataset id)."""
    versions = sorted((at, p, v) for p, plan in enumerate(plans) for v, at in enumerate(plan.times))
    first = first_id(cursor, "evaluations_modelversion")
    version_ids = {(p, v): first + i for i, (_, p, v) in enumerate(versions)}

    def version_row(at, p, v):
        plan = plans[p]
        model = ids["model"][(plan.project, plan.name)]
        return version_ids[(p, v)], model, plan.labels[v], commit(plan, v), plan.branches[v], at

    columns = ("id", "model_id", "label", "commit", "branch", "first_seen_at")
    copy_rows(cursor, "evaluations_modelversion", columns, (version_row(*v) for v in versions))
    move_sequence(cursor, "evaluations_modelversion")
    runs = sorted(
        (at + timedelta(minutes=3 * d), p, v, d)
        for p, plan in enumerate(plans)
        for v, at in enumerate(plan.times)
        for d in range(len(plan.datasets))
    )
    first = first_id(cursor, "evaluations_evaluationrun")
    runs = [
        (at, p, v, d, first + i, version_ids[(p, v)], ids["dataset"][dataset_key(plans[p], d, at)])
        for i, (at, p, v, d) in enumerate(runs)
    ]
    rows = (run_row(plans[run[1]], ids, run) for run in runs)
    copy_rows(cursor, "evaluations_evaluationrun", RUN_COLUMNS, rows)
    move_sequence(cursor, "evaluations_evaluationrun")
    return runs


def run_row(plan, ids, run):
    at, _, v, _, run_id, version_id, dataset_id = run
    ci_url = f"https://ci.example.com/{plan.project}/{run_id}" if plan.external_ids else ""
    metadata = plan.metadata or ({"ci_url": ci_url} if ci_url else {})
    external_id = f"ci-{run_id}-1" if plan.external_ids else None
    return (
        run_id, ids["project"][plan.project], version_id, dataset_id, "offline", None,
        at - timedelta(minutes=12), at, at, commit(plan, v), plan.branches[v], "main", ci_url,
        metadata, external_id, secrets.token_hex(32), at + timedelta(seconds=2), plan.verdict,
    )  # fmt: skip


def commit(plan, version):
    return f"{plan.seed:08x}{version:032x}"


def dataset_key(plan, index, at):
    name, version, _ = plan.datasets[index]
    return plan.project, name, str(at.year) if version is None else version


def write_series(cursor, plans, ids, runs):
    """The series the runs' results go to, analysed after their last point when watched;
    their ids by (plan index, dataset id, branch): an array of metrics x slices."""
    blocks, stats = {}, {}
    next_id = first_id(cursor, "evaluations_series")
    for at, p, v, _, _, _, dataset_id in runs:
        key = (p, dataset_id, plans[p].branches[v])
        if key not in blocks:
            shape = (len(plans[p].metrics), len(plans[p].slices))
            blocks[key] = np.arange(next_id, next_id + shape[0] * shape[1]).reshape(shape)
            next_id += blocks[key].size
        stats[key] = (stats.get(key, (0,))[0] + 1, at)

    def rows():
        for (p, dataset_id, branch), block in blocks.items():
            plan = plans[p]
            points, last = stats[(p, dataset_id, branch)]
            watched = branch == "main"
            analysed = last + timedelta(minutes=1) if watched else None
            for m, metric in enumerate(plan.metrics):
                for s, name in enumerate(plan.slices):
                    yield (
                        int(block[m, s]), ids["model"][(plan.project, plan.name)], dataset_id,
                        ids["metric"][(plan.project, metric.name)], name,
                        ids["branch"][(plan.project, plan.name, branch)], "offline", watched,
                        False, last, points, analysed, int(watched), "", 0,
                    )  # fmt: skip

    copy_rows(cursor, "evaluations_series", SERIES_COLUMNS, rows())
    move_sequence(cursor, "evaluations_series")
    return blocks


def result_lines(plans, runs, blocks, counter):
    """Each run's results as COPY text, in the runs' order (one string per run)."""
    from evaluations.models.points import point_encoder

    values = [values_of(plan) for plan in plans]
    for at, p, v, d, run_id, version_id, dataset_id in runs:
        plan = plans[p]
        block = blocks[(p, dataset_id, plan.branches[v])].tolist()
        size = plan.datasets[d][2] or 10_000
        stamp, lines = at.isoformat(), []
        encode = point_encoder(plan.labels[v], run_id, at)  # as ingestion encodes a run's points
        for m, metric in enumerate(plan.metrics):
            for s, value in enumerate(values[p][v, d, m].tolist()):
                n = (size if s == 0 else size // 4) if metric.with_n else None
                low = high = None
                if metric.with_interval:
                    low, high = round(value - metric.interval, 6), round(value + metric.interval, 6)
                point = encode(value, n, low, high)
                numbers = "\t".join(copy_text(x) for x in (value, n, low, high))
                lines.append(f"{run_id}\t{block[m][s]}\t{version_id}\t{numbers}\t{stamp}\t"
                             f"{escaped(point)}\n")  # fmt: skip
        counter.add(len(lines))
        yield "".join(lines)


class Counter:
    """Counts the results written, and says so every million."""

    def __init__(self, log):
        self.log, self.count, self.began, self.next = log, 0, time.perf_counter(), 1_000_000

    def add(self, count):
        self.count += count
        if self.count >= self.next:
            self.log(f"  {self.count:,} results in {self.seconds():.0f} s")
            self.next += 1_000_000

    def seconds(self):
        return time.perf_counter() - self.began


class Lines(io.TextIOBase):
    """A file COPY reads, whose text comes from an iterator of strings as it is read: the
    rows are made while PostgreSQL stores the ones before."""

    def __init__(self, chunks):
        self.chunks = iter(chunks)

    def readable(self):
        return True

    def read(self, size=-1):
        parts, length = [], 0
        for chunk in self.chunks:
            parts.append(chunk)
            length += len(chunk)
            if 0 <= size <= length:
                break
        return "".join(parts)


def escaped(text):
    """Text as COPY's text format reads it back."""
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def copy_text(value):
    if value is None:
        return r"\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict | list):
        return escaped(orjson.dumps(value).decode())
    return escaped(str(value))


def copy(cursor, table, columns, lines):
    cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", lines)


def copy_rows(cursor, table, columns, rows):
    copy(cursor, table, columns, Lines("\t".join(map(copy_text, row)) + "\n" for row in rows))


def copy_keyed(cursor, table, rows, columns, row_of):
    """One row per key of ``rows`` (``row_of(key, value)``: its columns after the id); the new
    rows' ids by key."""
    first = first_id(cursor, table)
    keyed = {key: first + i for i, key in enumerate(rows)}
    lines = ((keyed[key], *row_of(key, value)) for key, value in rows.items())
    copy_rows(cursor, table, ("id", *columns), lines)
    move_sequence(cursor, table)
    return keyed


def first_id(cursor, table):
    cursor.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {table}")
    return cursor.fetchone()[0]


def move_sequence(cursor, table):
    """The id sequence past the ids given explicitly, so that the next insert follows them."""
    cursor.execute(
        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
        f"(SELECT coalesce(max(id), 1) FROM {table}))"
    )


@contextmanager
def without_indexes(cursor, table, log=print):
    """A table's indexes, primary key, unique and foreign-key constraints dropped, and made
    again on the way out: a big COPY then writes only the heap, each index is built in one
    sort, and each foreign key checked in one join."""
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype IN ('p', 'u', 'f') ORDER BY contype",
        [table],
    )
    constraints = cursor.fetchall()  # 'f' sorts first: the references go first
    cursor.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname "
        "NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)",
        [table, table],
    )
    indexes = cursor.fetchall()
    for name, _ in constraints:
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _ in indexes:
        cursor.execute(f'DROP INDEX "{name}"')
    try:
        yield
    finally:
        # Keys first, then the references to other tables, then the other indexes.
        made = [
            (name, f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
            for name, definition in reversed(constraints)
        ]
        for name, statement in [*made, *indexes]:
            began = time.perf_counter()
            cursor.execute(statement)
            log(f"    {name}: {time.perf_counter() - began:.0f} s")
