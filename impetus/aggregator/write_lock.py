"""One writer lock per database file, shared by every store of this process that writes to it.

The event store (ingest) and the alert store (correlator, API) are separate connections to the
same SQLite file. Left to SQLite, a writer that finds the file locked sleeps in its busy handler
(1, 2, 5, 10 ... 100 ms steps) however soon the other commit ends; that sleep was most of the
alert feed's tail latency. Waiting on an in-process lock instead wakes the moment it is free.
Other processes (the operator CLI) still meet SQLite's busy timeout, as before.

    lock = write_lock(Path("var/aggregator.db"))
    with lock:
        db.execute("BEGIN IMMEDIATE")
"""

from __future__ import annotations

import threading
from pathlib import Path

_locks: dict[Path, threading.RLock] = {}
_registry_lock = threading.Lock()


def write_lock(path: Path) -> threading.RLock:
    """The lock every writer of `path` in this process holds around its transactions."""
    key = path.resolve()
    with _registry_lock:
        lock = _locks.get(key)
        if lock is None:
            lock = _locks[key] = threading.RLock()
        return lock
