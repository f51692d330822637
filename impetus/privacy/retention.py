"""Retention at the aggregator: delete events (and dead letters) older than the period, and keep
proof that it was done - a row per run in `privacy_retention_log` with the cut-off, the counts per
event type and a digest of the deleted event ids - in the same transaction as the deletion.

Works on the aggregator's SQLite file directly (the privacy package never imports the
aggregator); the table is created on first use and the store's own schema is left alone.
EDPB 3/2019 expects footage kept "a few days"; events are not footage but follow the same rule.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from impetus.protocol import format_ts

LOG_TABLE = "privacy_retention_log"
_CREATE = f"""
CREATE TABLE IF NOT EXISTS {LOG_TABLE} (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_at TEXT NOT NULL,
    days REAL NOT NULL,
    cutoff TEXT NOT NULL,
    events_deleted INTEGER NOT NULL,
    dead_letters_deleted INTEGER NOT NULL,
    by_type TEXT NOT NULL,
    deleted_ids_sha256 TEXT NOT NULL,
    events_left INTEGER NOT NULL,
    oldest_left TEXT
)
"""


class RetentionError(RuntimeError):
    pass


@dataclass(frozen=True)
class RetentionRun:
    run_at: str
    days: float
    cutoff: str
    events_deleted: int
    dead_letters_deleted: int
    by_type: dict[str, int]
    deleted_ids_sha256: str
    events_left: int
    oldest_left: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def open_db(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise RetentionError(f"{path}: no such aggregator database (expected the SQLite file of `--db`)")
    conn = sqlite3.connect(path, timeout=10.0)
    conn.row_factory = sqlite3.Row
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "events" not in tables:
        conn.close()
        raise RetentionError(f"{path}: has no events table; expected an impetus aggregator database")
    return conn


def enforce(db_path: Path, days: float, *, now: datetime | None = None) -> RetentionRun:
    """Delete what is older than `days` (by event time) and log the run; returns the log row."""
    if days <= 0:
        raise RetentionError(f"--days must be > 0, got {days}")
    now = now or datetime.now(UTC)
    cutoff = format_ts(now - timedelta(days=days))
    conn = open_db(db_path)
    try:
        with conn:
            conn.execute(_CREATE)
            doomed = conn.execute(
                "SELECT event_id, type FROM events WHERE ts < ? ORDER BY event_id", (cutoff,)
            ).fetchall()
            by_type: dict[str, int] = {}
            for row in doomed:
                by_type[row["type"]] = by_type.get(row["type"], 0) + 1
            ids = hashlib.sha256("\n".join(row["event_id"] for row in doomed).encode()).hexdigest()
            deleted = conn.execute("DELETE FROM events WHERE ts < ?", (cutoff,)).rowcount
            letters = conn.execute("DELETE FROM dead_letters WHERE received_at < ?", (cutoff,)).rowcount
            left, oldest = conn.execute("SELECT count(*), min(ts) FROM events").fetchone()
            run = RetentionRun(
                run_at=format_ts(now),
                days=days,
                cutoff=cutoff,
                events_deleted=deleted,
                dead_letters_deleted=letters,
                by_type=dict(sorted(by_type.items())),
                deleted_ids_sha256=ids,
                events_left=left,
                oldest_left=oldest,
            )
            conn.execute(
                f"INSERT INTO {LOG_TABLE} (run_at, days, cutoff, events_deleted, dead_letters_deleted, "
                "by_type, deleted_ids_sha256, events_left, oldest_left) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run.run_at,
                    run.days,
                    run.cutoff,
                    run.events_deleted,
                    run.dead_letters_deleted,
                    json.dumps(run.by_type),
                    run.deleted_ids_sha256,
                    run.events_left,
                    run.oldest_left,
                ),
            )
    finally:
        conn.close()
    return run


def history(db_path: Path) -> list[dict[str, Any]]:
    """Every retention run recorded in the database, oldest first."""
    conn = open_db(db_path)
    try:
        conn.execute(_CREATE)
        rows = conn.execute(f"SELECT * FROM {LOG_TABLE} ORDER BY id").fetchall()
        return [{**dict(row), "by_type": json.loads(row["by_type"])} for row in rows]
    finally:
        conn.close()
