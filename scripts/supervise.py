#!/usr/bin/env python3
"""Keep a long-running process alive: start it again whenever it exits unasked.

``scripts/supervise.py COMMAND [ARGS...]`` runs the command as a child in a process group
of its own and, when it exits without having been asked to (a crash, an unrecoverable
error, SIGKILL from the OOM killer), starts it again after a pause that doubles from 1 s up
to 30 s and falls back to 1 s once a run has lasted a minute. SIGTERM, SIGINT and SIGQUIT
(and SIGHUP, passed on as SIGTERM) are forwarded to the child, once per signal received,
so that ``docker compose stop`` and Ctrl-C stop Celery exactly as they would without the
supervisor; the supervisor then exits with the child's status.

Standard library only: it starts before anything of the project is imported.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime

FIRST_DELAY = 1.0
MAX_DELAY = 30.0
# A run this long counts as healthy: the next crash restarts after FIRST_DELAY again.
STEADY_AFTER = 60.0
FORWARDED = {
    signal.SIGTERM: signal.SIGTERM,
    signal.SIGINT: signal.SIGINT,
    signal.SIGQUIT: signal.SIGQUIT,
    # A closed terminal: stop, as the command would if it ran in the foreground.
    signal.SIGHUP: signal.SIGTERM,
}


def log(message):
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S,%f")[:-3]
    print(f"[{stamp}: INFO/supervise] {message}", file=sys.stderr, flush=True)


class Supervisor:
    def __init__(self, command):
        self.command = command
        self.child = None
        self.stop_signal = None

    def run(self):
        for received in FORWARDED:
            signal.signal(received, self.on_signal)
        log(f"supervising {' '.join(self.command)}")
        delay = FIRST_DELAY
        while self.stop_signal is None:
            started = time.monotonic()
            status = self.run_once()
            if self.stop_signal is not None:
                return exit_code(status)
            if time.monotonic() - started >= STEADY_AFTER:
                delay = FIRST_DELAY
            log(f"pid {self.child.pid} exited unasked ({describe(status)}); restart in {delay:g} s")
            self.pause(delay)
            delay = min(delay * 2, MAX_DELAY)
        return 0

    def run_once(self):
        # A group of its own: Ctrl-C in a terminal reaches the supervisor alone, which
        # passes it on once (Celery takes a second SIGINT as "terminate running tasks").
        self.child = subprocess.Popen(self.command, process_group=0)
        log(f"started pid {self.child.pid}")
        if self.stop_signal is not None:  # asked to stop while starting it
            self.forward(self.stop_signal)
        status = self.child.wait()
        self.clean_up(self.child.pid)
        return status

    def on_signal(self, received, frame):
        self.stop_signal = received
        self.forward(received)

    def forward(self, received):
        if self.child is not None and self.child.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.child.pid, FORWARDED[received])

    def pause(self, seconds):
        # In steps, so that a stop signal ends the pause at once.
        deadline = time.monotonic() + seconds
        while self.stop_signal is None and time.monotonic() < deadline:
            time.sleep(0.1)

    @staticmethod
    def clean_up(group):
        # Pool processes a killed Celery leaves behind would go on running jobs beside
        # the next worker's; and as PID 1 in a container, orphans are ours to reap.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return


def describe(status):
    if status < 0:
        return f"killed by signal {-status}: {signal.strsignal(-status)}"
    return f"status {status}"


def exit_code(status):
    return 128 - status if status < 0 else status


def main(argv):
    if not argv:
        print("usage: supervise.py COMMAND [ARGS...]", file=sys.stderr)
        return 2
    return Supervisor(argv).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
