"""The persistent outbox: every message is written here before it is published, and removed
only when the broker acknowledges it (PUBACK), so a broker or network outage loses nothing.

One small SQLite file (WAL) per device. It also keeps the device's message sequence number,
which is stamped in the same transaction that stores the message: `seq` never repeats, even
across restarts, and a gap in it at the aggregator means messages were really lost (dropped
here because the outbox was full, which is counted).

>>> box = Outbox(Path("/var/lib/impetus/outbox.sqlite"), max_rows=20_000)
>>> row_id = box.put(event)             # event re-stamped with the next seq
>>> for row in box.claim(10): ...        # publish, then box.ack(row.id) on PUBACK
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from impetus.protocol import EnvelopeBase
from impetus.protocol.topics import topic_for

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL,
    type TEXT NOT NULL,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    priority INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_order ON outbox (priority DESC, id);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
STATUS = "status"


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    event_id: str
    type: str
    topic: str
    payload: bytes
    qos: int
    retain: bool


class Outbox:
    """Thread-safe: detectors put from their threads, the publisher claims and acks from its own."""

    def __init__(self, path: Path, max_rows: int = 10_000, durable: bool = True) -> None:
        if max_rows < 1:
            raise ValueError(f"outbox max_rows must be >= 1, got {max_rows}")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.max_rows = max_rows
        self._lock = threading.Lock()
        self._in_flight: set[int] = set()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL survives power loss (an SD card in a pole loses power); NORMAL only process crashes.
        self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        self._db.executescript(_SCHEMA)

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _counter(self, name: str) -> int:
        row = self._db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else 0

    def _bump(self, name: str, by: int = 1) -> int:
        value = self._counter(name) + by
        self._db.execute(
            "INSERT INTO counters (name, value) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            (name, value),
        )
        return value

    def next_seq(self) -> int:
        """Reserve a sequence number for a message that is not stored here (the Last Will)."""
        with self._transaction():
            return self._bump("seq") - 1

    def put(self, event: EnvelopeBase) -> tuple[int, EnvelopeBase]:
        """Store the event with the device's next seq; returns the row id and the event as stored.

        A `status` replaces any older unsent status (the topic is retained: only the newest
        matters) and is sent before everything else. When the outbox is full, the oldest
        non-status rows are dropped and counted.
        """
        event_type: str = event.type  # type: ignore[attr-defined]
        priority = 1 if event_type == STATUS else 0
        topic = topic_for(event.site, event.device_id, event_type)
        with self._transaction():
            seq = self._bump("seq") - 1
            stored = event.model_copy(update={"seq": seq})
            if event_type == STATUS:
                self._db.execute(
                    f"DELETE FROM outbox WHERE type = ? AND id NOT IN ({self._in_flight_marks()})",
                    (STATUS, *self._in_flight),
                )
            self._make_room()
            cursor = self._db.execute(
                "INSERT INTO outbox (event_id, type, topic, payload, qos, retain, priority) "
                "VALUES (?, ?, ?, ?, 1, ?, ?)",
                (stored.event_id, event_type, topic, stored.to_bytes(), int(event_type == STATUS), priority),
            )
        return int(cursor.lastrowid or 0), stored

    def _in_flight_marks(self) -> str:
        return ",".join("?" * len(self._in_flight))

    def _make_room(self) -> None:
        count = self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
        excess = count - self.max_rows + 1
        if excess <= 0:
            return
        victims = [
            row[0]
            for row in self._db.execute(
                f"SELECT id FROM outbox WHERE type != ? AND id NOT IN ({self._in_flight_marks()}) "
                "ORDER BY id LIMIT ?",
                (STATUS, *self._in_flight, excess),
            )
        ]
        self._db.executemany("DELETE FROM outbox WHERE id = ?", [(v,) for v in victims])
        self._bump("dropped", len(victims))

    def claim(self, limit: int) -> list[OutboxRow]:
        """Up to `limit` rows not yet handed to the publisher, status first, then oldest first."""
        if limit <= 0:
            return []
        with self._lock:
            rows = self._db.execute(
                "SELECT id, event_id, type, topic, payload, qos, retain FROM outbox "
                f"WHERE id NOT IN ({self._in_flight_marks()}) ORDER BY priority DESC, id LIMIT ?",
                (*self._in_flight, limit),
            ).fetchall()
            claimed = [OutboxRow(r[0], r[1], r[2], r[3], bytes(r[4]), r[5], bool(r[6])) for r in rows]
            self._in_flight.update(row.id for row in claimed)
            return claimed

    def ack(self, row_ids: Iterable[int]) -> None:
        """The broker has the messages: forget them."""
        ids = list(row_ids)
        with self._transaction():
            self._db.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in ids])
            self._in_flight.difference_update(ids)

    def release(self, row_ids: Iterable[int]) -> None:
        """Rows handed out but not sent (the client refused them): offer them again."""
        with self._lock:
            self._in_flight.difference_update(row_ids)

    def backlog(self) -> int:
        """Messages stored and not yet acknowledged by the broker."""
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def in_flight(self) -> int:
        with self._lock:
            return len(self._in_flight)

    def dropped(self) -> int:
        """Messages dropped because the outbox was full, over the life of this file."""
        with self._lock:
            return self._counter("dropped")

    def close(self) -> None:
        with self._lock:
            self._db.close()
