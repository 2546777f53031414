"""The steps of benchmarks/history.py that run with Django set up on one database: writing the
history (or the probes' data alone) and running the probes, with the machinery of
benchmarks/api.py, pages.py and sweep.py."""

import os
import secrets
import statistics
import time

from . import api, history_copy, pages, sweep
from .history_data import background_plans, plan_results, probe_plans
from .stack import CpuMeter, query, running_stack

SWEEP_SERIES, SWEEP_POINTS = 2000, 200
PAGE_PATH = "/projects/bench/models/classifier/"
PAGE_ROUNDS, PAGE_REQUESTS = 5, 20
FIGURES = {  # benchmarks/api.py's figures, by the names history.py tables them under
    ("single post", "p95 latency"): "post_p95",
    ("single post", "PostgreSQL CPU per post"): "post_db_cpu",
    ("single post", "gunicorn CPU per post"): "post_app_cpu",
    ("series read", "cold p95 latency"): "series_cold_p95",
    ("series read", "warm p95 latency"): "series_warm_p95",
    ("series read", "after-post p95 latency"): "series_after_post_p95",
    ("series read", "after-backfill p95 latency"): "series_after_backfill_p95",
}


def load(dbname, results):
    """The probes' models and, when ``results`` is not 0, the background history around them,
    then the sweep's batch of series; ``results`` results in all."""
    from django.db import connection
    from django.utils import timezone

    from evaluations.models import Series

    began = time.perf_counter()
    plans = probe_plans()
    if results:
        background = results - plan_results(plans) - SWEEP_SERIES * SWEEP_POINTS
        plans += background_plans(background)
    print(f"[{dbname}] {len(plans)} models, {plan_results(plans):,} results, then the sweep's "
          f"{SWEEP_SERIES:,} series x {SWEEP_POINTS} points")  # fmt: skip
    history_copy.generate(plans, log=lambda line: print(f"[{dbname}] {line}", flush=True))
    batch, _ = sweep.load(SWEEP_SERIES, SWEEP_POINTS, project_name="sweep")
    # Analysed, as the rest: the sweep probe marks them due each time it runs.
    Series.objects.filter(pk__in=batch).update(dirty=False, analysed_at=timezone.now())
    decorate_classifier()
    vacuumed = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(f"[{dbname}] VACUUM ANALYZE in {time.perf_counter() - vacuumed:.0f} s")
    ((count, size),) = query(
        "SELECT (SELECT count(*) FROM evaluations_metricresult), "
        "pg_size_pretty(pg_database_size(current_database()))",
        dbname=dbname,
    )
    print(f"[{dbname}] {count:,} results, {size}, written in {time.perf_counter() - began:.0f} s")
    return {"results": count}


def decorate_classifier():
    """The model page's model as benchmarks/pages.py leaves it: a pinned baseline, rules and a
    drift finding."""
    from evaluations.models import Branch, EvaluationRun, ModelVersion, RegisteredModel, Series

    model = RegisteredModel.objects.get(project__name="bench", name="classifier")
    main = Branch.objects.get(model=model, name="main")
    rows = list(ModelVersion.objects.filter(model=model).order_by("first_seen_at"))
    runs = list(EvaluationRun.objects.filter(model_version__model=model).order_by("recorded_at"))
    series = list(Series.objects.filter(model=model).order_by("pk"))
    pages.decorate(model, main, rows, runs, series)


def probe(dbname, env, workers):
    """Every probe once on ``dbname``; what they wrote is deleted after."""
    from django.utils import timezone

    from evaluations.models import Project, Series

    began = timezone.now()
    figures = {"load_average": " ".join(f"{x:.2f}" for x in os.getloadavg())}
    batch = list(Series.objects.filter(model__project__name="sweep").values_list("pk", flat=True))
    swept = sweep.measure(env, dbname, batch, workers)
    sweep.print_cpu(swept)
    figures["sweep_rate"] = len(batch) / swept["seconds"]
    figures["sweep_db_cpu"] = 1000 * swept["cpu"]["PostgreSQL"] / len(batch)
    client = pages.logged_in_client(Project.objects.get(name="bench"))
    page = pages.measure(client, PAGE_PATH, "one slice", PAGE_ROUNDS, PAGE_REQUESTS)
    figures["page_p95"] = page["p95"]
    figures["page_sql_ms"] = page_sql_ms(client)
    try:
        with running_stack(dbname) as stack:
            meter = CpuMeter(stack.gunicorn_pid, dbname)
            client = api.Api(stack.base_url, stack.token, meter, stack.clear_cache, dbname)
            measured = api.single_post(client, api.FULL, f"bench-single-{secrets.token_hex(3)}")
            api.settle(dbname)
            first, last, points = series_extent()
            measured += api.series_reads(client, api.FULL, "bench-series", points, first, last)
    finally:
        forget_writes(since=began)
    for figure in measured:
        if (figure.scenario, figure.name) in FIGURES:
            figures[FIGURES[(figure.scenario, figure.name)]] = figure.value
    return figures


def page_sql_ms(client, requests=PAGE_REQUESTS):
    """The median time a model page spends in its SQL statements (the part a long history
    could slow; the rest is the same work on the same data), ms."""
    from django.db import connection

    spent = []

    def timed(execute, sql, params, many, context):
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            spent[-1] += time.perf_counter() - began

    with connection.execute_wrapper(timed):
        for _ in range(requests):
            spent.append(0.0)
            client.get(PAGE_PATH)
    return 1000 * statistics.median(spent)


def series_extent():
    """The first and last times of the series-read probe's series, and its length."""
    from django.db.models import Count, Max, Min

    from evaluations.models import MetricResult

    extent = MetricResult.objects.filter(
        series__model__project__name="bench", series__model__name="bench-series"
    ).aggregate(first=Min("recorded_at"), last=Max("recorded_at"), points=Count("id"))
    return extent["first"], extent["last"], extent["points"]


def forget_writes(*, since):
    """Delete what the probes posted (runs, versions and models created since ``since``), so
    that every round starts from the same history; series they left due are left clean."""
    from evaluations.models import EvaluationRun, ModelVersion, RegisteredModel, Series

    EvaluationRun.objects.filter(created_at__gte=since).delete()
    ModelVersion.objects.filter(first_seen_at__gte=since).delete()
    RegisteredModel.objects.filter(created_at__gte=since).delete()
    Series.objects.filter(dirty=True).update(dirty=False)
