"""What a long history costs on disk, and how the probes' main statements run over it: the
biggest tables' and their indexes' sizes, each btree's depth (pageinspect's ``bt_metap``), and
the plan of every statement the probes run, with actual times and buffers, as auto_explain
reports them to this session (``EXPLAIN (ANALYZE, BUFFERS)`` of exactly what the code sends).
"""

import collections
import json
import random
import re
from contextlib import contextmanager

from .api import METRICS, run_body

TABLES = 6  # the biggest, by total size
PLAN_LINES = 40  # of each probe's main statement
# The tables whose growth the probes could feel.
BIG_TABLES = ("evaluations_metricresult", "evaluations_evaluationrun", "evaluations_series",
              "evaluations_modelversion")  # fmt: skip
AUTO_EXPLAIN = (
    "LOAD 'auto_explain'",
    "SET auto_explain.log_min_duration = 0",
    "SET auto_explain.log_analyze = on",
    "SET auto_explain.log_buffers = on",
    # Timing every node would slow the statements of many rows twice over; rows, loops and
    # buffers are what tell whether the history's size reaches them.
    "SET auto_explain.log_timing = off",
    "SET auto_explain.log_level = 'notice'",
    "SET client_min_messages = 'notice'",
)


def report(dbname):
    sizes = table_sizes()
    print(f"\n=== {dbname}: tables and indexes ===")
    for table in sizes:
        print(f"{table['table']}: {table['rows']:,} rows, heap {mb(table['heap'])}, "
              f"TOAST {mb(table['toast'])}, indexes {mb(table['indexes'])}, "
              f"total {mb(table['total'])}")  # fmt: skip
        for name, size, depth in table["index_list"]:
            print(f"    {name}: {mb(size)}, {depth} levels")
    plans = probe_plans()
    print(f"\n=== {dbname}: the probes' statements (auto_explain: ANALYZE, BUFFERS) ===")
    summary = {}
    for probe, statements in plans.items():
        print(f"\n--- {probe}: {len(statements)} statements, "
              f"{sum(s['ms'] for s in statements):.1f} ms in the database")  # fmt: skip
        big = [s for s in statements if any(t in s["query"] for t in BIG_TABLES)]
        for statement in sorted(big, key=lambda s: -s["ms"])[:6]:
            print(f"  {statement['ms']:8.3f} ms  hit {statement['hit']:>6} read "
                  f"{statement['read']:>6}  {statement['query'][:110]}")  # fmt: skip
        main = max(big, key=lambda s: s["ms"])
        plan = [line if len(line) < 160 else line[:150] + " ..." for line in main["plan"]]
        print("  plan of the slowest:\n    " + "\n    ".join(plan[:PLAN_LINES]))
        summary[probe] = [{k: s[k] for k in ("ms", "hit", "read", "query")} for s in big]
    return {"sizes": sizes, "plans": summary}


def mb(size):
    return f"{size / 2**20:,.1f} MB"


def table_sizes():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pageinspect")
        cursor.execute(
            "SELECT c.relname, c.reltuples::bigint, pg_relation_size(c.oid), "
            "coalesce(pg_total_relation_size(nullif(c.reltoastrelid, 0)), 0), "
            "pg_indexes_size(c.oid), pg_total_relation_size(c.oid) "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind = 'r' "
            "ORDER BY pg_total_relation_size(c.oid) DESC LIMIT %s",
            [TABLES],
        )
        tables = [dict(zip(("table", "rows", "heap", "toast", "indexes", "total"), row,
                           strict=True)) for row in cursor.fetchall()]  # fmt: skip
        for table in tables:
            cursor.execute(
                "SELECT i.indexrelid::regclass::text, pg_relation_size(i.indexrelid), "
                "(SELECT level + 1 FROM bt_metap(i.indexrelid::regclass::text)) "
                "FROM pg_index i WHERE i.indrelid = %s::regclass ORDER BY 2 DESC",
                [table["table"]],
            )
            table["index_list"] = cursor.fetchall()
    return tables


def probe_plans():
    """Each probe's statements, run once warm (after a run to warm the caches), with their
    plans: the series read with nothing cached, the model page, a CI post of 20 metrics and
    one analysis job's read of 200 series."""
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from evaluations import selectors
    from evaluations.models import ApiToken, Project, Series
    from evaluations.services import projects, series_analysis

    from . import history_probes, pages

    project = Project.objects.get(name="bench")
    _, secret = projects.create_token(project=project, name="plans", scope=ApiToken.Scope.ADMIN)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    page = pages.logged_in_client(project)
    job = list(Series.objects.filter(model__project__name="sweep").order_by("pk")
               .values_list("pk", flat=True)[:200])  # fmt: skip
    posts = iter(range(100))

    def post():
        version = next(posts)
        body = run_body(model="bench-plans", version=f"plans-{version}", rng=random.Random(version))
        answer = api.post("/api/v1/runs/", json.dumps(body), content_type="application/json")
        assert answer.status_code == 201, answer.content

    def series_read():
        cache.clear()
        answer = api.get("/api/v1/models/bench-series/series/?metric=accuracy&dataset=holdout")
        assert answer.status_code == 200, answer.content

    probes = {
        "series read, nothing cached": series_read,
        "model page": lambda: page.get(history_probes.PAGE_PATH),
        f"CI post of {len(METRICS)} metrics": post,
        "analysis job's read of 200 series": lambda: selectors.analysis_inputs(
            series_ids=job, points=series_analysis.POINTS
        ),
    }
    plans, began = {}, timezone.now()
    try:
        for name, run in probes.items():
            run()  # warm: caches, remembered rows, the model's first series
            run()
            with explained(connection) as notices:
                run()
            plans[name] = [parse(notice) for notice in notices if "plan:" in notice]
    finally:
        history_probes.forget_writes(since=began)
        ApiToken.objects.filter(name="plans").delete()
    return plans


@contextmanager
def explained(connection):
    """auto_explain on in this session: the plans of every statement, as notices."""
    connection.ensure_connection()
    raw = connection.connection
    raw.notices = collections.deque()
    with connection.cursor() as cursor:
        for statement in AUTO_EXPLAIN:
            cursor.execute(statement)
    raw.notices.clear()
    try:
        yield raw.notices
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET auto_explain.log_min_duration = -1")


def parse(notice):
    """A statement's duration, query, plan lines and its top node's shared buffers."""
    lines = notice.rstrip().splitlines()
    duration = float(re.search(r"duration: ([\d.]+) ms", lines[0]).group(1))
    # The query may span lines; the plan starts at its first node.
    start = next((i for i, line in enumerate(lines) if i > 1 and "(cost=" in line), len(lines))
    query = " ".join(" ".join(lines[1:start]).removeprefix("Query Text: ").split())
    plan = lines[start:]
    buffers = next((line for line in plan if "Buffers:" in line), "")
    hit, read = (re.search(rf"{kind}=(\d+)", buffers) for kind in ("hit", "read"))
    return {
        "ms": duration,
        "query": query,
        "plan": plan,
        "hit": int(hit.group(1)) if hit else 0,
        "read": int(read.group(1)) if read else 0,
    }
