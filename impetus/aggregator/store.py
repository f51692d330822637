"""The aggregator's memory: events, dead letters and devices in one SQLite file (WAL).

The interface is deliberately narrow - `record` one batch of ingested messages, and a few
queries - so that a PostgreSQL store can replace this one when one file is no longer enough.
Writes are idempotent: an event id seen before is ignored and counted, which turns the broker's
at-least-once delivery into effectively-once storage.

    store = EventStore("var/aggregator.db")
    outcome = store.record([ValidMessage(event, topic, received_at)])
    page = store.events(device="cam-01", limit=10)
"""

from __future__ import annotations

import codecs
import json
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from impetus.aggregator.write_lock import write_lock
from impetus.protocol import EnvelopeBase, format_ts

DEAD_LETTER_KEEP_BYTES = 4096
EXCERPT_CHARS = 200

# One entry per schema version; a file is brought up to date when it is opened.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE events (
        event_id TEXT PRIMARY KEY,
        device_id TEXT NOT NULL,
        site TEXT NOT NULL,
        zone TEXT,
        type TEXT NOT NULL,
        ts TEXT NOT NULL,
        received_at TEXT NOT NULL,
        seq INTEGER NOT NULL,
        confidence REAL NOT NULL,
        test INTEGER NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX events_ts ON events (ts);
    CREATE INDEX events_device_ts ON events (device_id, ts);
    CREATE INDEX events_type_ts ON events (type, ts);
    CREATE TABLE dead_letters (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        received_at TEXT NOT NULL,
        topic TEXT NOT NULL,
        reason_code TEXT NOT NULL,
        reason TEXT NOT NULL,
        payload BLOB NOT NULL,
        payload_size INTEGER NOT NULL
    );
    CREATE TABLE devices (
        site TEXT NOT NULL,
        device_id TEXT NOT NULL,
        state TEXT NOT NULL,
        state_since TEXT,
        last_seen TEXT,
        last_seq INTEGER,
        last_status TEXT,
        last_health TEXT,
        PRIMARY KEY (site, device_id)
    );
    """,
)


class StoreError(RuntimeError):
    """The database file cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class ValidMessage:
    """A message that passed the wire contract."""

    event: EnvelopeBase
    topic: str
    received_at: datetime


@dataclass(frozen=True)
class DeadLetter:
    """A message that did not; kept (truncated) with the reason, for the technician."""

    topic: str
    reason_code: str
    reason: str
    payload: bytes
    received_at: datetime


@dataclass
class RecordOutcome:
    stored: list[dict[str, Any]] = field(default_factory=list)
    duplicates: int = 0
    dead_letters: int = 0
    status_updates: int = 0
    health_updates: int = 0


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    total: int


_INSERT_EVENT = """
INSERT OR IGNORE INTO events
    (event_id, device_id, site, zone, type, ts, received_at, seq, confidence, test, body)
VALUES (:event_id, :device_id, :site, :zone, :type, :ts, :received_at, :seq, :confidence, :test, :body)
"""
_SEEN_BY_EVENT = """
INSERT INTO devices (site, device_id, state, last_seen, last_seq)
VALUES (:site, :device_id, 'unknown', :received_at, :seq)
ON CONFLICT (site, device_id) DO UPDATE SET
    last_seen = max(coalesce(devices.last_seen, ''), excluded.last_seen), last_seq = excluded.last_seq
"""
_SEEN_BY_HEALTH = """
INSERT INTO devices (site, device_id, state, last_seen, last_seq, last_health)
VALUES (:site, :device_id, 'unknown', :received_at, :seq, :body)
ON CONFLICT (site, device_id) DO UPDATE SET
    last_seen = excluded.last_seen, last_seq = excluded.last_seq, last_health = excluded.last_health
"""
# An `offline` status is usually the broker delivering the Last Will, prepared when the device
# connected: it changes the state but is no sign of life, so it leaves last_seen and last_seq.
_STATUS = """
INSERT INTO devices (site, device_id, state, state_since, last_seen, last_seq, last_status)
VALUES (:site, :device_id, :state, :received_at, :seen, :seq, :body)
ON CONFLICT (site, device_id) DO UPDATE SET
    state_since = CASE WHEN devices.state = excluded.state THEN devices.state_since
                       ELSE excluded.state_since END,
    state = excluded.state,
    last_seen = coalesce(excluded.last_seen, devices.last_seen),
    last_seq = coalesce(excluded.last_seq, devices.last_seq),
    last_status = excluded.last_status
"""
_INSERT_DEAD_LETTER = """
INSERT INTO dead_letters (received_at, topic, reason_code, reason, payload, payload_size)
VALUES (:received_at, :topic, :reason_code, :reason, :payload, :payload_size)
"""


class EventStore:
    """SQLite store; safe to share between the ingest thread and the API's worker threads."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise StoreError(f"{self.path}: is a directory; expected the path of a SQLite file")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._write_lock = write_lock(self.path)
        try:
            self._migrate(self._db())
        except sqlite3.DatabaseError as error:
            self.close()
            raise StoreError(f"{self.path}: cannot be used as the aggregator database: {error}") from None

    def _db(self) -> Database:
        """One connection per thread: WAL lets the API read while ingest writes."""
        db: Database | None = getattr(self._local, "db", None)
        if db is None:
            conn = sqlite3.connect(self.path, timeout=10.0, check_same_thread=False)
            with self._connections_lock:
                self._connections.append(conn)
            db = Database(conn, execute_plugins=False)
            db.enable_wal()
            # FULL: a message acknowledged to the broker survives a power cut, not only a crash;
            # batching in ingest keeps the fsync cost per message small.
            db.execute("PRAGMA synchronous=FULL")
            self._local.db = db
        return db

    def _migrate(self, db: Database) -> None:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise StoreError(
                f"{self.path}: schema version {version} is newer than this aggregator knows "
                f"({len(MIGRATIONS)}); upgrade impetus"
            )
        with self._write_lock:
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                db.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")

    def close(self) -> None:
        with self._connections_lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()

    # -- writes ---------------------------------------------------------------------------------

    def record(self, messages: Sequence[ValidMessage | DeadLetter]) -> RecordOutcome:
        """Write one batch in one transaction; returns what was new, for listeners and counters."""
        outcome = RecordOutcome()
        last_event_of: dict[tuple[str, str], dict[str, Any]] = {}
        db = self._db()
        with self._write_lock, db.atomic():
            for message in messages:
                if isinstance(message, DeadLetter):
                    db.execute(_INSERT_DEAD_LETTER, _dead_letter_row(message))
                    outcome.dead_letters += 1
                    continue
                event = message.event
                kind: str = event.type  # type: ignore[attr-defined]
                row = _event_row(message)
                if kind == "status":
                    state: str = event.payload.state  # type: ignore[attr-defined]
                    online = state == "online"
                    db.execute(
                        _STATUS,
                        {
                            **row,
                            "state": state,
                            "seen": row["received_at"] if online else None,
                            "seq": row["seq"] if online else None,
                        },
                    )
                    outcome.status_updates += 1
                elif kind == "health":
                    db.execute(_SEEN_BY_HEALTH, row)
                    outcome.health_updates += 1
                elif db.execute(_INSERT_EVENT, row).rowcount == 1:
                    outcome.stored.append(_event_item(row))
                    last_event_of[(row["site"], row["device_id"])] = row
                else:
                    outcome.duplicates += 1
            for row in last_event_of.values():  # once per device and batch, not once per event
                db.execute(_SEEN_BY_EVENT, row)
        return outcome

    # -- queries --------------------------------------------------------------------------------

    def events(
        self,
        *,
        device: str | None = None,
        event_type: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> Page:
        """Newest first (device clock); `since` is inclusive, `until` exclusive."""
        clauses: list[str] = []
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if device is not None:
            clauses.append("device_id = :device")
            params["device"] = device
        if event_type is not None:
            clauses.append("type = :type")
            params["type"] = event_type
        if since is not None:
            clauses.append("ts >= :since")
            params["since"] = format_ts(since)
        if until is not None:
            clauses.append("ts < :until")
            params["until"] = format_ts(until)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        db = self._db()
        total = next(db.query(f"SELECT count(*) AS n FROM events {where}", params))["n"]
        rows = db.query(
            f"SELECT body, received_at FROM events {where} "
            "ORDER BY ts DESC, event_id DESC LIMIT :limit OFFSET :offset",
            params,
        )
        return Page([_event_item(row) for row in rows], total)

    def event(self, event_id: str) -> dict[str, Any] | None:
        rows = list(self._db().query("SELECT body, received_at FROM events WHERE event_id = ?", [event_id]))
        return _event_item(rows[0]) if rows else None

    def event_count(self) -> int:
        return next(self._db().query("SELECT count(*) AS n FROM events"))["n"]

    def event_counts(self) -> dict[tuple[str, str], dict[str, int]]:
        """Stored events per (site, device) and type: the demo's and the operator's overview."""
        counts: dict[tuple[str, str], dict[str, int]] = {}
        rows = self._db().query(
            "SELECT site, device_id, type, count(*) AS n FROM events GROUP BY site, device_id, type"
        )
        for row in rows:
            counts.setdefault((row["site"], row["device_id"]), {})[row["type"]] = row["n"]
        return counts

    def devices(self) -> list[dict[str, Any]]:
        rows = self._db().query("SELECT * FROM devices ORDER BY site, device_id")
        return [
            {
                **row,
                "last_status": json.loads(row["last_status"]) if row["last_status"] else None,
                "last_health": json.loads(row["last_health"]) if row["last_health"] else None,
            }
            for row in rows
        ]

    def dead_letters(self, *, limit: int = 100, offset: int = 0) -> Page:
        """Newest first. The payload comes back only as a short text excerpt, never as bytes."""
        db = self._db()
        total = next(db.query("SELECT count(*) AS n FROM dead_letters"))["n"]
        rows = db.query(
            "SELECT * FROM dead_letters ORDER BY id DESC LIMIT :limit OFFSET :offset",
            {"limit": limit, "offset": offset},
        )
        return Page([_dead_letter_item(row) for row in rows], total)


def _event_row(message: ValidMessage) -> dict[str, Any]:
    event = message.event
    return {
        "event_id": event.event_id,
        "device_id": event.device_id,
        "site": event.site,
        "zone": event.zone,
        "type": event.type,  # type: ignore[attr-defined]
        "ts": format_ts(event.ts),
        "received_at": format_ts(message.received_at),
        "seq": event.seq,
        "confidence": event.confidence,
        "test": int(event.test),
        "body": event.to_bytes().decode("utf-8"),
    }


def _event_item(row: dict[str, Any]) -> dict[str, Any]:
    """What the API and the live feed hand out: the envelope as sent, plus when it arrived."""
    return {**json.loads(row["body"]), "received_at": row["received_at"]}


def _dead_letter_row(letter: DeadLetter) -> dict[str, Any]:
    return {
        "received_at": format_ts(letter.received_at),
        "topic": letter.topic,
        "reason_code": letter.reason_code,
        "reason": letter.reason,
        "payload": letter.payload[:DEAD_LETTER_KEEP_BYTES],
        "payload_size": len(letter.payload),
    }


def _dead_letter_item(row: dict[str, Any]) -> dict[str, Any]:
    try:
        # Incremental, so a character cut by the truncation does not make text look binary.
        text = codecs.getincrementaldecoder("utf-8")().decode(bytes(row["payload"]), final=False)
        excerpt: str | None = text[:EXCERPT_CHARS]
    except UnicodeDecodeError:
        excerpt = None  # binary (possibly media): never handed out
    return {
        "id": row["id"],
        "received_at": row["received_at"],
        "topic": row["topic"],
        "reason_code": row["reason_code"],
        "reason": row["reason"],
        "payload_size": row["payload_size"],
        "payload_excerpt": excerpt,
    }
