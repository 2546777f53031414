"""The production stack, started for a benchmark and removed after it: a scratch PostgreSQL
database, a Celery queue and cache entries of its own on Redis (the entries under a key prefix),
a Celery worker consuming the queue (so that posts queue analysis jobs as in production, where
series are analysed and clean again between posts), and gunicorn serving the app.

Everything listens on 127.0.0.1, every wait is bounded, and every part is removed on the way
out, also on an error or Ctrl-C.
"""

import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg2
import redis

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

PG_DSN = "host=127.0.0.1 port=5432 user=postgres connect_timeout=5"
# BENCH_DATABASE names another scratch database, so that two benchmarks can run side by side.
BENCH_DB = os.environ.get("BENCH_DATABASE") or "trackerapp_bench"
if not BENCH_DB.replace("_", "").isalnum():
    raise SystemExit(f"BENCH_DATABASE must be a plain name, not {BENCH_DB!r}.")
DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/{BENCH_DB}"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
# BENCH_REDIS_DB likewise: the queue and cache entries are this run's own, the db number too.
REDIS_DB = int(os.environ.get("BENCH_REDIS_DB") or 14)
BINDING_TABLES = ("binding", "binding_permanent")

WORKERS = 3
STARTUP_SECONDS = 60


class BenchError(Exception):
    """The benchmark could not measure: a failed command, a non-2xx answer, a wrong body."""


@dataclass(frozen=True)
class Stack:
    base_url: str
    token: str
    gunicorn_pid: int
    cache_prefix: str
    dbname: str = BENCH_DB
    worker_pid: int | None = None

    def clear_cache(self):
        """Delete the server's cache entries (their keys start with its prefix)."""
        return delete_cache_keys(self.cache_prefix)


@contextmanager
def running_stack(dbname=None):
    """The whole stack, migrated, with a project token: on a scratch database (``BENCH_DB``,
    dropped at the end), or on the existing database ``dbname``, which is kept."""
    queue = f"bench-{secrets.token_hex(4)}"
    env = server_env(queue, dbname or BENCH_DB)
    with ExitStack() as stack:
        if dbname is None:
            stack.enter_context(database())
        stack.enter_context(broker_queue(queue))
        stack.enter_context(cache_keys(queue))
        manage("migrate", "--noinput", env=env)
        token = (
            manage("create_token", "bench", "--scope", "admin", env=env).strip().splitlines()[-1]
        )
        with celery_worker(env) as worker, gunicorn(env) as (base_url, pid):
            yield Stack(
                base_url, token, pid, cache_prefix=queue, dbname=dbname or BENCH_DB,
                worker_pid=worker.pid,
            )  # fmt: skip


def database_url(dbname=BENCH_DB):
    return f"postgres://postgres@127.0.0.1:5432/{dbname}"


def server_env(queue, dbname=BENCH_DB):
    return {
        **os.environ,
        "DATABASE_URL": database_url(dbname),
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "CELERY_BROKER_URL": f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}",
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        # As deployed (docker-compose.yml): gunicorn's workers share one cache in Redis.
        "CACHE_URL": f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}",
        "CACHE_KEY_PREFIX": queue,
        "LOG_LEVEL": "WARNING",
    }


def sql(statement, dbname="postgres"):
    connection = psycopg2.connect(PG_DSN, dbname=dbname)
    connection.autocommit = True  # CREATE/DROP DATABASE refuse to run in a transaction
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement)
    finally:
        connection.close()


@contextmanager
def database(dbname=BENCH_DB):
    """A scratch database, created empty (dropped first if a run left it behind)."""
    sql(f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)")
    sql(f"CREATE DATABASE {dbname}")
    try:
        yield
    finally:
        try:
            sql(f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)")
            print(f"Dropped database {dbname}.")
        except psycopg2.Error as exc:
            print(f"warning: could not drop database {dbname}: {exc}", file=sys.stderr)


def redis_call(*command):
    """One command on the bench Redis database, in raw RESP; its one-line reply."""
    with socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=5) as sock:
        replies = sock.makefile("rb")
        for words in (("SELECT", str(REDIS_DB)), command):
            encoded = [word.encode() for word in words]
            sock.sendall(
                b"*%d\r\n" % len(encoded)
                + b"".join(b"$%d\r\n%s\r\n" % (len(word), word) for word in encoded)
            )
            reply = replies.readline().decode().rstrip("\r\n")
            if reply.startswith("-"):
                raise BenchError(f"Redis {words[0]}: {reply[1:]}")
        return reply


@contextmanager
def broker_queue(queue):
    """A Celery queue of this run's own; deleted at the end since no worker consumes it."""
    try:
        yield
    finally:
        try:
            pending = redis_call("LLEN", queue).lstrip(":")
            # Kombu keeps the queue's bindings beside it, under its exchange (named alike).
            redis_call("DEL", queue, *(f"_kombu.{table}.{queue}" for table in BINDING_TABLES))
            print(f"Deleted Redis queue {queue} ({pending} analysis jobs left unconsumed).")
        except OSError as exc:
            print(f"warning: could not delete Redis queue {queue}: {exc}", file=sys.stderr)


@contextmanager
def cache_keys(prefix):
    """The run's cache entries, deleted at the end."""
    try:
        yield
    finally:
        try:
            print(f"Deleted {delete_cache_keys(prefix)} cache entries.")
        except redis.RedisError as exc:
            print(f"warning: could not delete the cache entries: {exc}", file=sys.stderr)


def delete_cache_keys(prefix):
    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB)
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)
    return len(keys)


def manage(*args, env):
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        raise BenchError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result.stdout


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def gunicorn(env):
    """A running gunicorn; yields its base URL and pid once /healthz answers 200."""
    port = free_port()
    with tempfile.TemporaryFile() as log:
        # A session of its own: Ctrl-C reaches only us, and we stop the server in order.
        command = [BIN / "gunicorn", "trackerapp.wsgi:application", "--workers", str(WORKERS)]
        process = subprocess.Popen(
            [*command, "--bind", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            base_url = f"http://127.0.0.1:{port}"
            wait_until_healthy(base_url, process, log)
            yield base_url, process.pid
        except BenchError:
            print(f"gunicorn's log ends with:\n{tail(log, 6000)}", file=sys.stderr)
            raise
        finally:
            stop(process)
            print(f"Stopped gunicorn (pid {process.pid}).")


@contextmanager
def celery_worker(env, concurrency=1, name="bench"):
    """A Celery worker on the benchmark's queue, as ``scripts/worker`` runs it: prefork, with
    ``concurrency`` pool processes (one by default). Workers side by side need their own
    ``name``."""
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [BIN / "celery", "-A", "trackerapp", "worker", "--concurrency", str(concurrency),
             "--hostname", f"{name}@%h", "--queues", env["CELERY_TASK_DEFAULT_QUEUE"],
             "--loglevel", "WARNING"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            time.sleep(1)
            if process.poll() is not None:
                raise BenchError(f"celery worker exited with {process.returncode}:\n{tail(log)}")
            yield process
        finally:
            stop(process)
            print(f"Stopped the Celery worker (pid {process.pid}).")


class CpuMeter:
    """CPU time the server spends, read from /proc (Linux): gunicorn's workers, and the
    PostgreSQL sessions on the scratch database (the workers' and the Celery worker's); with
    ``worker_pid``, also the Celery worker's processes ("worker") and this process, the
    benchmark's clients ("clients"): where all of the machine's time went. On a shared machine
    this varies far less than latency does."""

    def __init__(self, gunicorn_pid, dbname=BENCH_DB, worker_pid=None):
        self.gunicorn_pid, self.dbname, self.worker_pid = gunicorn_pid, dbname, worker_pid

    def read(self):
        """{"app": {pid: seconds}, "db": {pid: seconds}}, or None without /proc."""
        try:
            children = Path(f"/proc/{self.gunicorn_pid}/task/{self.gunicorn_pid}/children")
            workers = [int(pid) for pid in children.read_text().split()]
        except OSError:
            return None
        backends = query(
            "SELECT pid, backend_type FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            [self.dbname],
        )
        spent = {
            "app": cpu_seconds(workers),
            "db": cpu_seconds([pid for pid, kind in backends if kind == "client backend"]),
            "autovacuum": cpu_seconds([pid for pid, kind in backends if kind != "client backend"]),
        }
        if self.worker_pid is not None:
            spent["worker"] = cpu_seconds([self.worker_pid, *children_of(self.worker_pid)])
            spent["clients"] = cpu_seconds([os.getpid()])
        return spent

    @staticmethod
    def spent(before, after):
        """Seconds spent between two readings, by part; a process that ended in between is
        missed, one that started is counted whole."""
        if before is None or after is None:
            return None
        return {
            part: sum(seconds - before[part].get(pid, 0.0) for pid, seconds in after[part].items())
            for part in after
        }


def children_of(pid):
    try:
        return [
            int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        ]
    except OSError:
        return []


def cpu_seconds(pids):
    """{pid: user + system CPU seconds} of the processes still running."""
    ticks = os.sysconf("SC_CLK_TCK")
    seconds = {}
    for pid in pids:
        try:
            # Fields after the command (which may hold spaces): utime and stime are 14 and 15.
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        seconds[pid] = (int(fields[11]) + int(fields[12])) / ticks
    return seconds


def query(statement, params=(), dbname="postgres"):
    connection = psycopg2.connect(PG_DSN, dbname=dbname)
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement, params)
            return cursor.fetchall()
    finally:
        connection.close()


def wait_until_healthy(base_url, process, log):
    deadline = time.monotonic() + STARTUP_SECONDS
    answer = "no answer"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"gunicorn exited with {process.returncode}:\n{tail(log)}")
        try:
            response = httpx.get(f"{base_url}/healthz", timeout=5)
            answer = f"{response.status_code} {response.text}"
            if response.status_code == 200:
                if response.json()["broker"] != "ok":
                    raise BenchError(f"The broker is not reachable: {answer}")
                return
        except httpx.TransportError as exc:
            answer = repr(exc)
        time.sleep(0.2)
    raise BenchError(f"/healthz did not answer 200 in {STARTUP_SECONDS} s: {answer}\n{tail(log)}")


def tail(log, size=3000):
    log.seek(0)
    return log.read().decode(errors="replace")[-size:]


def stop(process):
    process.terminate()  # gunicorn's graceful shutdown: workers finish their request
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
