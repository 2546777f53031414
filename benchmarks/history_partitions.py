"""Would partitioning the results table keep the probes' statements flat over a long history?
Each of them runs against the results table as it is, against copies of it partitioned by the
year of ``recorded_at`` and by project (the copy carries its run's project), and against the
table with the history key's index covering the columns the page and the analysis read;
each is timed in the server (the median of ``REPEAT`` runs' execution times, warm) and its
buffers counted (EXPLAIN ANALYZE, BUFFERS). The copies and the index are made in the
history's database and dropped after.

The statements, with the probes' own data: a series read with nothing cached (5,000 points'
JSON), the model page's values (20 series of 1,000 versions), an analysis job's read (the
latest 200 points of 200 series) and a post's 20 results (inserted, then rolled back).
"""

import statistics
import time

import psycopg2

from .stack import PG_DSN

REPEAT = 15
TABLE = "evaluations_metricresult"
BY_YEAR, BY_PROJECT = "bench_results_by_year", "bench_results_by_project"
COVERING = "bench_result_history_covering"
# (what it is, whose data: a key of probe_data's answer, the statement)
STATEMENTS = (
    (
        "series read, nothing cached", "series",
        "SELECT point FROM {table} WHERE series_id = %(series)s {project} "
        "ORDER BY recorded_at DESC, run_id DESC",
    ),
    (
        "model page's values", "page",
        "SELECT series_id, run_id, value, n, ci_low, ci_high FROM {table} "
        "WHERE series_id = ANY(%(page)s) {project}",
    ),
    (
        "analysis job's read", "job",
        "SELECT series_id, model_version_id, value, n, ci_low, ci_high FROM ("
        "  SELECT *, row_number() OVER (PARTITION BY series_id "
        "    ORDER BY recorded_at DESC, run_id DESC) AS rank "
        "  FROM {table} WHERE series_id = ANY(%(job)s) {project}) AS ranked "
        "WHERE rank <= 200 ORDER BY series_id, recorded_at, run_id",
    ),
    (
        "a post's 20 results", "run",
        "INSERT INTO {table} (id, value, n, ci_low, ci_high, recorded_at, run_id, "
        "model_version_id, series_id, point{project_column}) "
        "SELECT -id, value, n, ci_low, ci_high, now(), -1, model_version_id, series_id, point"
        "{project_value} FROM {table} WHERE run_id = %(run)s {project}",
    ),
)  # fmt: skip


def compare(dbname, log=print):
    connection = psycopg2.connect(PG_DSN, dbname=dbname)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            params = probe_data(cursor)
            variants = {"as it is": (TABLE, False)}
            build(cursor, log)
            variants |= {"by year": (BY_YEAR, False), "by project": (BY_PROJECT, True)}
            figures = {name: measure(connection, table, scoped, params)
                       for name, (table, scoped) in variants.items()}  # fmt: skip
            cursor.execute(f"DROP TABLE {BY_YEAR}, {BY_PROJECT}")
            began = time.perf_counter()
            cursor.execute(f"CREATE INDEX {COVERING} ON {TABLE} (series_id, recorded_at, run_id) "
                           "INCLUDE (model_version_id, value, n, ci_low, ci_high)")  # fmt: skip
            cursor.execute(f"VACUUM ANALYZE {TABLE}")
            cursor.execute("SELECT pg_relation_size(%s), pg_relation_size('result_history')",
                           [COVERING])  # fmt: skip
            covering, plain = cursor.fetchone()
            log(f"covering index: {time.perf_counter() - began:.0f} s, {covering / 2**20:.0f} MB "
                f"(result_history: {plain / 2**20:.0f} MB)")  # fmt: skip
            try:
                figures["covering index"] = measure(connection, TABLE, False, params)
            finally:
                cursor.execute(f"DROP INDEX {COVERING}")
    finally:
        connection.close()
    print_figures(figures)
    return figures


def probe_data(cursor):
    """The probes' series, a post's run and the projects they belong to."""

    def one(statement, params=()):
        cursor.execute(statement, params)
        return cursor.fetchone()

    series, bench = one(
        "SELECT s.id, m.project_id FROM evaluations_series s JOIN evaluations_registeredmodel m "
        "ON m.id = s.model_id JOIN evaluations_project p ON p.id = m.project_id "
        "WHERE p.name = 'bench' AND m.name = 'bench-series'"
    )
    (page,) = one(
        "SELECT array_agg(s.id ORDER BY s.id) FROM evaluations_series s JOIN "
        "evaluations_registeredmodel m ON m.id = s.model_id WHERE m.name = 'classifier' "
        "AND m.project_id = %s AND s.slice = 'overall'",
        [bench],
    )
    job, sweep = one(
        "SELECT (array_agg(s.id ORDER BY s.id))[1:200], min(m.project_id) FROM evaluations_series "
        "s JOIN evaluations_registeredmodel m ON m.id = s.model_id JOIN evaluations_project p ON "
        "p.id = m.project_id WHERE p.name = 'sweep'"
    )
    (run,) = one(
        "SELECT max(e.id) FROM evaluations_evaluationrun e JOIN evaluations_modelversion v ON "
        "v.id = e.model_version_id JOIN evaluations_registeredmodel m ON m.id = v.model_id "
        "WHERE m.name = 'classifier' AND e.project_id = %s",
        [bench],
    )
    return {"series": series, "page": page, "job": job, "run": run,
            "projects": {"series": bench, "page": bench, "job": sweep, "run": bench}}  # fmt: skip


def build(cursor, log):
    """The partitioned copies: by year of recorded_at, and by project (a column of its own)."""
    cursor.execute("SET maintenance_work_mem = '1GB'")
    cursor.execute("SELECT min(recorded_at), max(recorded_at) FROM evaluations_metricresult")
    first, last = cursor.fetchone()
    began = time.perf_counter()
    cursor.execute(f"CREATE TABLE {BY_YEAR} (LIKE {TABLE}) PARTITION BY RANGE (recorded_at)")
    for year in range(first.year, last.year + 2):
        cursor.execute(f"CREATE TABLE {BY_YEAR}_{year} PARTITION OF {BY_YEAR} FOR VALUES "
                       f"FROM ('{year}-01-01') TO ('{year + 1}-01-01')")  # fmt: skip
    cursor.execute(f"INSERT INTO {BY_YEAR} SELECT * FROM {TABLE} ORDER BY id")
    cursor.execute("SELECT id FROM evaluations_project ORDER BY id")
    projects = [pk for (pk,) in cursor.fetchall()]
    cursor.execute(f"CREATE TABLE {BY_PROJECT} (LIKE {TABLE}, project_id bigint NOT NULL) "
                   "PARTITION BY LIST (project_id)")  # fmt: skip
    for pk in projects:
        cursor.execute(f"CREATE TABLE {BY_PROJECT}_{pk} PARTITION OF {BY_PROJECT} "
                       f"FOR VALUES IN ({pk})")  # fmt: skip
    cursor.execute(f"INSERT INTO {BY_PROJECT} SELECT r.*, e.project_id FROM {TABLE} r "
                   "JOIN evaluations_evaluationrun e ON e.id = r.run_id ORDER BY r.id")  # fmt: skip
    for table in (BY_YEAR, BY_PROJECT):
        cursor.execute(f"CREATE INDEX ON {table} (series_id, recorded_at, run_id)")
        cursor.execute(f"CREATE INDEX ON {table} (run_id, series_id)")
        cursor.execute(f"VACUUM ANALYZE {table}")
    log(f"partitioned copies ({len(projects)} projects; years {first.year} to {last.year}): "
        f"{time.perf_counter() - began:.0f} s")  # fmt: skip


def measure(connection, table, scoped, params):
    """{statement: (median ms, shared buffers touched)} on ``table``; with ``scoped``, each
    statement names its data's project, as the partitions by project need to be pruned."""
    figures = {}
    for name, whose, template in STATEMENTS:
        project = params["projects"][whose]
        statement = template.format(
            table=table,
            project=f"AND project_id = {project}" if scoped else "",
            project_column=", project_id" if scoped else "",
            project_value=f", {project}" if scoped else "",
        )
        figures[name] = timed(connection, statement, params)
    return figures


def timed(connection, statement, params):
    """The median of ``REPEAT`` runs' execution times in the server, ms (EXPLAIN ANALYZE
    without per-node timing: what the database spends, not the rows' way to the client),
    after one to warm the caches, and the buffers one touches; inserts are rolled back."""
    times, connection.autocommit = [], False
    try:
        with connection.cursor() as cursor:
            for _ in range(REPEAT + 1):
                cursor.execute(
                    f"EXPLAIN (ANALYZE, BUFFERS, TIMING OFF, FORMAT JSON) {statement}", params
                )
                ((plan,),) = cursor.fetchall()
                connection.rollback()
                times.append(plan[0]["Execution Time"])
    finally:
        connection.autocommit = True
    top = plan[0]["Plan"]
    return statistics.median(times[1:]), top["Shared Hit Blocks"] + top["Shared Read Blocks"]


def print_figures(figures):
    names = list(figures)
    print(f"\n{'statement (median ms, buffers)':<30}" + "".join(f"{n:>22}" for n in names))
    for statement, _, _ in STATEMENTS:
        cells = [f"{figures[n][statement][0]:.2f} ms, {figures[n][statement][1]:,}" for n in names]
        print(f"{statement:<30}" + "".join(f"{cell:>22}" for cell in cells))
