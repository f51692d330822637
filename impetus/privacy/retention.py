"""Retention at the aggregator: delete events, dead letters, closed alerts (with their event links
and history) and operator-requested snapshots (with their access log) older than the period, and
keep proof that it was done - a row per run in `privacy_retention_log` with the cut-off, the counts
and a digest of the deleted ids - in the same transaction as the deletion.

An alert's age is its last activity (`updated_at`); alerts still open (new, acknowledged,
assigned) are kept whatever their age, and the run says how many. The alert history is
append-only by a trigger; retention alone lifts it for its own delete, inside the transaction,
and puts it back before committing. A snapshot's age is the time it was requested.

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
# Columns added after the first release; older logs gain them (0 for the runs before).
_ADDED = {
    "alerts_deleted": "INTEGER NOT NULL DEFAULT 0",
    "open_alerts_kept": "INTEGER NOT NULL DEFAULT 0",
    "snapshots_deleted": "INTEGER NOT NULL DEFAULT 0",
    "other_ids_sha256": "TEXT NOT NULL DEFAULT ''",
}
OPEN_ALERT_STATUSES = ("new", "acknowledged", "assigned")
HISTORY_GUARD = "alert_history_no_delete"


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
    alerts_deleted: int = 0
    open_alerts_kept: int = 0
    snapshots_deleted: int = 0
    other_ids_sha256: str = ""

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
            _create_log(conn)
            doomed = conn.execute(
                "SELECT event_id, type FROM events WHERE ts < ? ORDER BY event_id", (cutoff,)
            ).fetchall()
            by_type: dict[str, int] = {}
            for row in doomed:
                by_type[row["type"]] = by_type.get(row["type"], 0) + 1
            ids = hashlib.sha256("\n".join(row["event_id"] for row in doomed).encode()).hexdigest()
            deleted = conn.execute("DELETE FROM events WHERE ts < ?", (cutoff,)).rowcount
            letters = conn.execute("DELETE FROM dead_letters WHERE received_at < ?", (cutoff,)).rowcount
            kept_open, alert_keys = _delete_alerts(conn, cutoff)
            snapshots = _delete_snapshots(conn, cutoff)
            other = hashlib.sha256(
                "\n".join(
                    [*(f"alert:{k}" for k in alert_keys), *(f"snapshot:{r}" for r in snapshots)]
                ).encode()
            ).hexdigest()
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
                alerts_deleted=len(alert_keys),
                open_alerts_kept=kept_open,
                snapshots_deleted=len(snapshots),
                other_ids_sha256=other,
            )
            conn.execute(
                f"INSERT INTO {LOG_TABLE} (run_at, days, cutoff, events_deleted, dead_letters_deleted, "
                "by_type, deleted_ids_sha256, events_left, oldest_left, alerts_deleted, open_alerts_kept, "
                "snapshots_deleted, other_ids_sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                    run.alerts_deleted,
                    run.open_alerts_kept,
                    run.snapshots_deleted,
                    run.other_ids_sha256,
                ),
            )
    finally:
        conn.close()
    return run


def history(db_path: Path) -> list[dict[str, Any]]:
    """Every retention run recorded in the database, oldest first."""
    conn = open_db(db_path)
    try:
        with conn:
            _create_log(conn)
        rows = conn.execute(f"SELECT * FROM {LOG_TABLE} ORDER BY id").fetchall()
        return [{**dict(row), "by_type": json.loads(row["by_type"])} for row in rows]
    finally:
        conn.close()


def _create_log(conn: sqlite3.Connection) -> None:
    conn.execute(_CREATE)
    have = {row["name"] for row in conn.execute(f"PRAGMA table_info({LOG_TABLE})")}
    for column, kind in _ADDED.items():
        if column not in have:
            conn.execute(f"ALTER TABLE {LOG_TABLE} ADD COLUMN {column} {kind}")


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def _delete_alerts(conn: sqlite3.Connection, cutoff: str) -> tuple[int, list[str]]:
    """Closed alerts last touched before the cut-off, with their links and history; returns
    (open alerts kept although older, deleted alert keys)."""
    if "alerts" not in _tables(conn):
        return 0, []
    open_marks = ", ".join("?" * len(OPEN_ALERT_STATUSES))
    doomed = conn.execute(
        f"SELECT id, key FROM alerts WHERE updated_at < ? AND status NOT IN ({open_marks}) ORDER BY id",
        (cutoff, *OPEN_ALERT_STATUSES),
    ).fetchall()
    (kept_open,) = conn.execute(
        f"SELECT count(*) FROM alerts WHERE updated_at < ? AND status IN ({open_marks})",
        (cutoff, *OPEN_ALERT_STATUSES),
    ).fetchone()
    if not doomed:
        return kept_open, []
    guard = conn.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?", (HISTORY_GUARD,)
    ).fetchone()
    conn.execute(f"DROP TRIGGER IF EXISTS {HISTORY_GUARD}")
    conn.execute("CREATE TEMP TABLE retention_doomed (id INTEGER PRIMARY KEY)")
    conn.executemany("INSERT INTO retention_doomed (id) VALUES (?)", [(row["id"],) for row in doomed])
    conn.execute("DELETE FROM alert_history WHERE alert_id IN (SELECT id FROM retention_doomed)")
    conn.execute("DELETE FROM alert_events WHERE alert_id IN (SELECT id FROM retention_doomed)")
    conn.execute("DELETE FROM alerts WHERE id IN (SELECT id FROM retention_doomed)")
    conn.execute("DROP TABLE retention_doomed")
    if guard is not None:
        conn.execute(guard["sql"])
    return kept_open, [row["key"] for row in doomed]


def _delete_snapshots(conn: sqlite3.Connection, cutoff: str) -> list[str]:
    """Snapshot requests (and their images) made before the cut-off, and who fetched them."""
    if "snapshots" not in _tables(conn):
        return []
    doomed = [
        row["request_id"]
        for row in conn.execute(
            "SELECT request_id FROM snapshots WHERE requested_at < ? ORDER BY request_id", (cutoff,)
        )
    ]
    conn.execute("DELETE FROM snapshots WHERE requested_at < ?", (cutoff,))
    conn.execute("DELETE FROM snapshot_access WHERE request_id NOT IN (SELECT request_id FROM snapshots)")
    return doomed
