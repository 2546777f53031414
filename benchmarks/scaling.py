"""How the sweep's throughput grows with worker processes (benchmarks/sweep.py): the measured
figures side by side, Amdahl's law fitted to them, and the ceiling each resource puts on the
throughput, from what one series costs it (the utilisation law: a resource with C cores busy
D seconds per series serves at most C / D series a second).

With figures for 1 and N workers, Amdahl's serial fraction is the one parameter two points
fix (the Universal Scalability Law's crosstalk term needs a third); on a machine whose cores
the workers share with PostgreSQL it mostly measures that sharing, so the resource ceilings
say where it would stop on a machine with cores to spare.
"""

import math
import os
import statistics

JOB_SERIES = 200  # evaluations.queue.ANALYSIS_CHUNK: a sweep is never split finer
PROJECTED = (1, 2, 4, 8, 16, 32, 64)


def report(runs, series):
    """``runs``: {worker processes: [figures of sweep.measure]}."""
    print(f"\nScaling: {series:,} series, medians of each count's runs (range of the times)")
    columns = ("workers", "runs", "seconds", "series/s", "speedup", "busy cores", "worker ms",
               "db ms", "redis ms", "rest ms")  # fmt: skip
    widths = (7, 4, 18, 9, 7, 10, 9, 6, 8, 7)
    print(" ".join(f"{c:>{w}}" for c, w in zip(columns, widths, strict=True)))
    rates, costs = {}, {}
    for count in sorted(runs):
        measured = runs[count]
        seconds = [f["seconds"] for f in measured]
        rates[count] = series / statistics.median(seconds)
        costs[count] = {part: statistics.median(per_series(f, part) for f in measured)
                        for part in ("workers", "PostgreSQL", "Redis", "rest")}  # fmt: skip
        busy = statistics.median(f["busy_cores"] for f in measured)
        speedup = rates[count] / rates[min(rates)] if min(rates) == 1 else math.nan
        c = costs[count]
        print(f"{count:>7} {len(measured):>4} {span(seconds):>18} {rates[count]:9.0f} "
              f"{speedup:7.2f} {busy:10.2f} {c['workers']:9.3f} {c['PostgreSQL']:6.3f} "
              f"{c['Redis']:8.3f} {c['rest']:7.3f}")  # fmt: skip
    print("(CPU per series, ms: the worker processes, PostgreSQL's sessions on the database, the "
          "Redis server, and everything else on the machine)")  # fmt: skip
    if 1 in rates and len(rates) > 1:
        project(rates, costs[1], series)


def per_series(figures, part):
    cpu = figures["cpu"]
    if part == "rest":
        used = figures["busy_cores"] * figures["seconds"] - sum(cpu.values())
    else:
        used = cpu[part]
    return 1000 * used / figures["series"]


def span(values):
    return f"{statistics.median(values):.1f} ({min(values):.1f}-{max(values):.1f})"


def amdahl_fraction(one, rate, count):
    """Amdahl's serial fraction from the rates with 1 and ``count`` workers (0 when the
    speedup is ``count`` or more: none measurable)."""
    return max((count * one / rate - 1) / (count - 1), 0.0)


def project(rates, cost, series):
    one = rates[1]
    count = max(rates)
    sigma = amdahl_fraction(one, rates[count], count)
    process = 1000 / one  # ms of one worker process per series, waits included
    db, workers = cost["PostgreSQL"], cost["workers"]
    jobs = math.ceil(series / JOB_SERIES)
    cores = os.cpu_count() or 1
    ceiling = f"ceiling {one / sigma:,.0f} series/s" if sigma else "no ceiling of its own"
    print(f"\nAmdahl fit from 1 and {count} workers: serial fraction {sigma:.3f}; {ceiling}")
    print("Ceilings, from one worker's costs per series (a process takes "
          f"{process:.2f} ms a series, {workers:.2f} ms of it its own CPU, {db:.3f} ms "
          f"PostgreSQL's):")  # fmt: skip
    print(f"  this machine's {cores} cores, shared by workers, PostgreSQL and the rest: "
          f"{1000 * cores / (workers + db + cost['Redis']):,.0f} series/s")  # fmt: skip
    print(f"  PostgreSQL, per core it can give: {1000 / db:,.0f} series/s, reached at "
          f"{process / db:.1f} worker processes per PostgreSQL core")  # fmt: skip
    if cost["Redis"] > 0:
        print(f"  Redis (one thread): {1000 / cost['Redis']:,.0f} series/s")
    else:
        print("  Redis: too little to measure (a message per 200 series)")
    print(f"  the jobs: {jobs} of {JOB_SERIES} series; more workers than jobs wait, and "
          f"{jobs} jobs over N workers take ceil({jobs}/N) job times")  # fmt: skip
    print(f"{'N':>4} {'Amdahl':>8} {'linear':>8} {'jobs bound':>10}   (series/s)")
    for n in PROJECTED:
        linear = one * n
        granular = series / (math.ceil(jobs / n) * JOB_SERIES / one)
        print(f"{n:>4} {one * n / (1 + sigma * (n - 1)):8,.0f} {linear:8,.0f} {granular:10,.0f}")
