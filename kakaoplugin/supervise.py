"""A small supervisor: runs one command and starts it again whenever it exits, until stopped.

    python -m kakaoplugin.supervise NAME -- COMMAND [ARG...]

``bin/run`` runs the Celery worker and the beat under it (docker compose restarts its containers
itself).  The command runs in a process group of its own; SIGINT (Ctrl-C) or SIGTERM to the
supervisor is passed on to it as SIGTERM (Celery: finish the running tasks, put the unacknowledged
messages back, exit), the supervisor waits for it to exit and exits too.  An exit it did not ask for
(a crash, ``kill -9``, an "Unrecoverable error") is logged and the command is started again after
a delay that doubles from 1 s up to 30 s while it keeps dying within a minute of its start.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

STOP_TIMEOUT = 60.0


def _log(name: str, message: str) -> None:
    print(f"[supervise {name}] {message}", file=sys.stderr, flush=True)


def _signal(child: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(child.pid, signum)
    except ProcessLookupError:
        pass


def supervise(name: str, command: list[str]) -> int:
    stopping = False

    def stop(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    delay = 1.0
    while not stopping:
        started = time.monotonic()
        child = subprocess.Popen(command, start_new_session=True)
        _log(name, f"started (pid {child.pid})")
        deadline = None
        while (code := child.poll()) is None:
            if stopping and deadline is None:
                _log(name, f"stopping (pid {child.pid})")
                _signal(child, signal.SIGTERM)
                deadline = time.monotonic() + STOP_TIMEOUT
            elif deadline is not None and time.monotonic() > deadline:
                _log(name, f"did not stop within {STOP_TIMEOUT:.0f} s: killing it")
                _signal(child, signal.SIGKILL)
                deadline = float("inf")
            time.sleep(0.1)
        if stopping:
            _log(name, f"stopped ({code})")
            return 0
        if time.monotonic() - started > 60:
            delay = 1.0
        _log(name, f"exited with {code}; starting it again in {delay:.0f} s")
        end = time.monotonic() + delay
        while not stopping and time.monotonic() < end:
            time.sleep(0.1)
        delay = min(delay * 2, 30.0)
    return 0


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    return supervise(argv[0], argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
