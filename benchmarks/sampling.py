"""What a benchmark's processes spend while it runs, sampled from /proc (Linux): CPU time by
part (a Celery worker and its pool processes, the PostgreSQL sessions on the benchmark's
database, the Redis server) and of the whole machine, and the peak resident memory of a
process tree.

Sessions and pool processes come and go, so each part's processes are looked up again at
every sample: a process seen first after the start counts whole, one that ends between two
samples loses at most its last interval.
"""

import os
import threading
import time
from pathlib import Path

import psycopg2
import redis

from .stack import PG_DSN, REDIS_HOST, REDIS_PORT, cpu_seconds


def machine_ticks():
    """(busy, all) CPU ticks of every core since boot (/proc/stat; iowait counts as idle)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def family(pid):
    """The process and its descendants."""
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return pids
    for child in children:
        pids += family(int(child))
    return pids


def rss_kb(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def database_sessions(dbname, exclude=()):
    """A finder of the PostgreSQL sessions on ``dbname`` but those in ``exclude`` (and its own)."""
    connection = psycopg2.connect(PG_DSN, dbname="postgres")
    connection.autocommit = True

    def find():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                [dbname],
            )
            return [pid for (pid,) in cursor.fetchall() if pid not in exclude]

    find.close = connection.close
    return find


def redis_server_pid():
    """The Redis server's pid (it serves every user of this machine, not only us)."""
    return int(redis.Redis(host=REDIS_HOST, port=REDIS_PORT).info("server")["process_id"])


class Sampler(threading.Thread):
    """Samples, every ``interval`` seconds until stopped, the CPU time of each part (a
    function answering its current pids), the machine's busy cores, and the peak resident
    memory of the part named ``memory_of``."""

    def __init__(self, parts, interval=0.25, memory_of=None):
        super().__init__(daemon=True)
        self.parts, self.interval, self.memory_of = parts, interval, memory_of
        self.first = {name: {} for name in parts}  # pid -> seconds at first sight
        self.last = {name: {} for name in parts}
        self.peak_kb = 0
        self._done = threading.Event()
        self._sample(first=True)
        self.began, self.machine_before = time.perf_counter(), machine_ticks()

    def run(self):
        while not self._done.wait(self.interval):
            self._sample()

    def stop(self):
        """Stop sampling; answers {"seconds", "cpu": {part: seconds}, "busy_cores"}."""
        self._done.set()
        self.join()
        self._sample()
        elapsed = time.perf_counter() - self.began
        busy, total = (after - before for after, before in
                       zip(machine_ticks(), self.machine_before, strict=True))  # fmt: skip
        cpu = {
            name: sum(seconds - self.first[name][pid] for pid, seconds in self.last[name].items())
            for name in self.parts
        }
        cores = os.cpu_count() or 1
        return {"seconds": elapsed, "cpu": cpu, "busy_cores": cores * busy / max(total, 1)}

    def _sample(self, first=False):
        for name, find in self.parts.items():
            pids = find()
            seconds = cpu_seconds(pids)
            for pid, value in seconds.items():
                # Seen at the start: counted from there; seen later: counted whole.
                self.first[name].setdefault(pid, value if first else 0.0)
                self.last[name][pid] = value
            if name == self.memory_of:
                self.peak_kb = max(self.peak_kb, sum(rss_kb(pid) for pid in pids))
