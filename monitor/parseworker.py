"""The worker-process side of `pipeline.ParsePool`: what a parse worker imports, and nothing more.

Workers are spawned (fresh interpreters); the pool's initializer and jobs refer only to this module and
monitor.parse, so a worker imports feedparser and never the HTTP client, the store or apprise. That keeps
each worker at ~25 MB instead of ~50 MB.
"""

from __future__ import annotations

import os
import threading
import time

import monitor.parse  # noqa: F401  (imported with the initializer: a worker has feedparser before its first job)


def exit_with(parent: int) -> None:
    """Worker initializer: exit when the monitor process is gone, even killed by SIGKILL.

    Without this, workers of a killed monitor wait forever for work (each holds both ends of the executor's
    queues).
    """

    def watch() -> None:
        while _alive(parent):
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-monitor", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # the PID now belongs to another user's process: ours is gone
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] != b"Z"  # a zombie is dead, just not yet reaped
    except (OSError, IndexError):
        return True  # no /proc: kill(pid, 0) said it exists
