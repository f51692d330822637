"""Alerts, their audit trail, silences and users: new tables in the aggregator's SQLite file.

Kept apart from `EventStore` so the event store stays narrow. The audit trail is append-only in
the database itself (triggers refuse UPDATE and DELETE), not only by convention. API keys are
kept as their SHA-256: a copied database file gives no one access.

    alerts = AlertStore("var/aggregator.db")
    alert_id = alerts.create(fields, [("01J...", False)])
    page = alerts.page(status="new", limit=20)
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from impetus.aggregator.write_lock import write_lock
from impetus.protocol import format_ts

ROLES: tuple[str, ...] = ("operator", "technician", "privacy_officer", "admin")
OPEN_STATUSES: tuple[str, ...] = ("new", "acknowledged", "assigned")
KEY_PREFIX = "imp_"

_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE alerts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        key TEXT NOT NULL UNIQUE,
        site TEXT NOT NULL,
        zone TEXT,
        device TEXT,
        type TEXT NOT NULL,
        title TEXT NOT NULL,
        severity TEXT NOT NULL,
        urgency TEXT NOT NULL,
        certainty TEXT NOT NULL,
        status TEXT NOT NULL,
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        event_count INTEGER NOT NULL,
        devices TEXT NOT NULL,
        confidence REAL NOT NULL,
        untrusted INTEGER NOT NULL,
        test INTEGER NOT NULL,
        location TEXT,
        assignee TEXT,
        acknowledged_by TEXT,
        acknowledged_at TEXT,
        closed_by TEXT,
        closed_at TEXT,
        sop TEXT NOT NULL,
        notes TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX alerts_status ON alerts (status, id);
    CREATE INDEX alerts_severity ON alerts (severity, id);
    CREATE INDEX alerts_type ON alerts (type, id);
    CREATE INDEX alerts_site ON alerts (site, id);
    CREATE INDEX alerts_assignee ON alerts (assignee, status);
    CREATE TABLE alert_events (
        alert_id INTEGER NOT NULL REFERENCES alerts (id),
        event_id TEXT NOT NULL,
        untrusted INTEGER NOT NULL,
        PRIMARY KEY (alert_id, event_id)
    );
    CREATE TABLE alert_history (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        alert_id INTEGER NOT NULL REFERENCES alerts (id),
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        from_status TEXT,
        to_status TEXT,
        note TEXT
    );
    CREATE INDEX alert_history_alert ON alert_history (alert_id, id);
    CREATE TRIGGER alert_history_no_update BEFORE UPDATE ON alert_history
        BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
    CREATE TRIGGER alert_history_no_delete BEFORE DELETE ON alert_history
        BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
    CREATE TABLE silences (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        site TEXT,
        zone TEXT,
        device TEXT,
        type TEXT,
        starts_at TEXT NOT NULL,
        ends_at TEXT NOT NULL,
        author TEXT NOT NULL,
        comment TEXT NOT NULL,
        created_at TEXT NOT NULL,
        deleted_at TEXT,
        deleted_by TEXT
    );
    CREATE TABLE users (
        name TEXT PRIMARY KEY,
        role TEXT NOT NULL,
        key_sha256 TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL
    );
    """,
)


class AlertStoreError(RuntimeError):
    """The alert tables cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class HistoryEntry:
    actor: str
    action: str
    from_status: str | None = None
    to_status: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class User:
    name: str
    role: str


AlertListener = Callable[[dict[str, Any]], None]
Mutation = Callable[[dict[str, Any]], tuple[dict[str, Any], list[HistoryEntry]]]


def now_ts() -> str:
    return format_ts(datetime.now(UTC))


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class AlertStore:
    """Safe to share between the correlator thread and the API's worker threads."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._write_lock = write_lock(self.path)
        self._listeners: list[AlertListener] = []
        try:
            self._migrate()
        except sqlite3.DatabaseError as error:
            self.close()
            raise AlertStoreError(f"{self.path}: cannot hold the alert tables: {error}") from None

    def _db(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=10.0, check_same_thread=False, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            # NORMAL: in WAL a crash loses nothing; a power cut may lose the last alert changes,
            # which the correlator rebuilds from the events (those are written with FULL).
            conn.execute("PRAGMA synchronous=NORMAL")
            with self._connections_lock:
                self._connections.append(conn)
            self._local.conn = conn
        return conn

    def _migrate(self) -> None:
        db = self._db()
        with self._write_lock:
            db.execute("CREATE TABLE IF NOT EXISTS soc_schema (version INTEGER NOT NULL)")
            row = db.execute("SELECT version FROM soc_schema").fetchone()
            version = row[0] if row else 0
            if version > len(_MIGRATIONS):
                raise AlertStoreError(
                    f"{self.path}: alert schema version {version} is newer than this aggregator knows "
                    f"({len(_MIGRATIONS)}); upgrade impetus"
                )
            for number, script in enumerate(_MIGRATIONS[version:], start=version + 1):
                db.executescript(
                    f"BEGIN; {script}; DELETE FROM soc_schema; "
                    f"INSERT INTO soc_schema (version) VALUES ({number}); COMMIT;"
                )

    def close(self) -> None:
        with self._connections_lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = self._db()
        with self._write_lock:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def add_listener(self, listener: AlertListener) -> None:
        """`listener(alert)` runs after every committed change of an alert (keep it quick)."""
        self._listeners.append(listener)

    def _notify(self, alert_ids: Sequence[int]) -> None:
        if not self._listeners:
            return
        for alert_id in alert_ids:
            alert = self.alert(alert_id)
            if alert is None:
                continue
            for listener in list(self._listeners):
                listener(alert)

    # -- alerts ---------------------------------------------------------------------------------

    def create(
        self, fields: dict[str, Any], events: Sequence[tuple[str, bool]], history: HistoryEntry
    ) -> int:
        alert_id = self.write_batch([("create", fields, events, [history])])[0]
        return alert_id

    def write_batch(
        self,
        operations: Sequence[tuple[str, dict[str, Any], Sequence[tuple[str, bool]], Sequence[HistoryEntry]]],
    ) -> list[int]:
        """Apply ("create", fields, events, history) and ("update", fields-with-id, ...) operations
        in one transaction; listeners hear of each touched alert once, after the commit."""
        touched: list[int] = []
        stamp = now_ts()
        with self._transaction() as db:
            for kind, fields, events, history in operations:
                row = {k: _encode(v) for k, v in fields.items()}
                if kind == "create":
                    row.update(created_at=stamp, updated_at=stamp)
                    columns = ", ".join(row)
                    marks = ", ".join(f":{c}" for c in row)
                    cursor = db.execute(f"INSERT INTO alerts ({columns}) VALUES ({marks})", row)
                    alert_id = int(cursor.lastrowid or 0)
                else:
                    alert_id = int(row.pop("id"))
                    row["updated_at"] = stamp
                    sets = ", ".join(f"{c} = :{c}" for c in row)
                    db.execute(f"UPDATE alerts SET {sets} WHERE id = :id", {**row, "id": alert_id})
                db.executemany(
                    "INSERT OR IGNORE INTO alert_events (alert_id, event_id, untrusted) VALUES (?, ?, ?)",
                    [(alert_id, event_id, int(untrusted)) for event_id, untrusted in events],
                )
                for entry in history:
                    _append_history(db, alert_id, stamp, entry)
                if alert_id not in touched:
                    touched.append(alert_id)
        self._notify(touched)
        return touched

    def mutate(self, alert_id: int, change: Mutation) -> dict[str, Any] | None:
        """Read the alert, let `change` decide (it may raise to refuse), write, all under one lock."""
        with self._transaction() as db:
            row = db.execute("SELECT * FROM alerts WHERE id = ?", [alert_id]).fetchone()
            if row is None:
                return None
            fields, history = change(_alert_item(row))
            if fields:
                encoded = {k: _encode(v) for k, v in fields.items()}
                encoded["updated_at"] = now_ts()
                sets = ", ".join(f"{c} = :{c}" for c in encoded)
                db.execute(f"UPDATE alerts SET {sets} WHERE id = :id", {**encoded, "id": alert_id})
            for entry in history:
                _append_history(db, alert_id, now_ts(), entry)
        self._notify([alert_id])
        return self.alert(alert_id)

    def alert(self, alert_id: int) -> dict[str, Any] | None:
        row = self._db().execute("SELECT * FROM alerts WHERE id = ?", [alert_id]).fetchone()
        return _alert_item(row) if row else None

    def open_alerts(self) -> list[dict[str, Any]]:
        marks = ", ".join("?" for _ in OPEN_STATUSES)
        rows = self._db().execute(f"SELECT * FROM alerts WHERE status IN ({marks})", OPEN_STATUSES)
        return [_alert_item(row) for row in rows]

    def page(
        self,
        *,
        status: str | None = None,
        severity: str | None = None,
        alert_type: str | None = None,
        site: str | None = None,
        limit: int = 100,
        offset: int = 0,
        before: int | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """Newest first (by creation), filtered and paged; `total` counts the filtered alerts.

        `before` (keyset paging: only alerts with a smaller id) costs the same at any depth,
        where `offset` reads and skips every row in front of the page."""
        clauses: list[str] = []
        params: list[Any] = []
        for column, value in (
            ("status", status),
            ("severity", severity),
            ("type", alert_type),
            ("site", site),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        db = self._db()
        total = db.execute(f"SELECT count(*) FROM alerts {where}", params).fetchone()[0]
        if before is not None:
            clauses.append("id < ?")
            params.append(before)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = db.execute(
            f"SELECT * FROM alerts {where} ORDER BY id DESC LIMIT ? OFFSET ?", [*params, limit, offset]
        )
        return [_alert_item(row) for row in rows], int(total)

    def event_links(self, alert_id: int, limit: int = 500) -> list[tuple[str, bool]]:
        rows = self._db().execute(
            "SELECT event_id, untrusted FROM alert_events WHERE alert_id = ? LIMIT ?", [alert_id, limit]
        )
        return [(row[0], bool(row[1])) for row in rows]

    def evidence(self, alert_id: int) -> list[tuple[dict[str, Any], bool]]:
        """The alert's stored events (envelope, untrusted as linked), oldest first: what
        the correlator rebuilds an open alert's memory from after a restart. Reads the events
        table the event store keeps in the same file."""
        rows = self._db().execute(
            "SELECT e.body, l.untrusted FROM alert_events AS l JOIN events AS e USING (event_id) "
            "WHERE l.alert_id = ? ORDER BY e.ts",
            [alert_id],
        )
        return [(json.loads(row[0]), bool(row[1])) for row in rows]

    def history(self, alert_id: int) -> list[dict[str, Any]]:
        rows = self._db().execute("SELECT * FROM alert_history WHERE alert_id = ? ORDER BY id", [alert_id])
        return [
            {
                "at": row["at"],
                "actor": row["actor"],
                "action": row["action"],
                "from": row["from_status"],
                "to": row["to_status"],
                "note": row["note"],
            }
            for row in rows
        ]

    def counts_by(self, column: str) -> dict[str, int]:
        if column not in ("status", "severity", "type"):
            raise ValueError(f"cannot count alerts by {column!r}")
        rows = self._db().execute(f"SELECT {column}, count(*) FROM alerts GROUP BY {column}")
        return {row[0]: int(row[1]) for row in rows}

    def operator_rows(self) -> list[dict[str, Any]]:
        """Per alert that someone acknowledged or holds: who, when created, when acknowledged."""
        rows = self._db().execute(
            "SELECT acknowledged_by, assignee, status, created_at, acknowledged_at FROM alerts "
            "WHERE acknowledged_by IS NOT NULL OR assignee IS NOT NULL"
        )
        return [dict(row) for row in rows]

    # -- silences -------------------------------------------------------------------------------

    def add_silence(self, fields: dict[str, Any]) -> dict[str, Any]:
        row = {**fields, "created_at": now_ts()}
        with self._transaction() as db:
            columns = ", ".join(row)
            marks = ", ".join(f":{c}" for c in row)
            cursor = db.execute(f"INSERT INTO silences ({columns}) VALUES ({marks})", row)
            silence_id = int(cursor.lastrowid or 0)
        silence = self.silence(silence_id)
        assert silence is not None
        return silence

    def silence(self, silence_id: int) -> dict[str, Any] | None:
        row = self._db().execute("SELECT * FROM silences WHERE id = ?", [silence_id]).fetchone()
        return dict(row) if row else None

    def silences(self, *, active_at: str | None = None) -> list[dict[str, Any]]:
        """Silences not deleted; with `active_at`, only those in force then."""
        query = "SELECT * FROM silences WHERE deleted_at IS NULL"
        params: list[str] = []
        if active_at is not None:
            query += " AND starts_at <= ? AND ends_at > ?"
            params = [active_at, active_at]
        return [dict(row) for row in self._db().execute(query + " ORDER BY id DESC", params)]

    def delete_silence(self, silence_id: int, by: str) -> bool:
        """Expire a silence; the row stays (who silenced what, and who ended it, is history)."""
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE silences SET deleted_at = ?, deleted_by = ? WHERE id = ? AND deleted_at IS NULL",
                [now_ts(), by, silence_id],
            )
        return cursor.rowcount == 1

    # -- users ----------------------------------------------------------------------------------

    def add_user(self, name: str, role: str, key: str | None = None) -> str:
        """Create or re-key `name`; returns the API key (only now: it is stored hashed)."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
        key = key or KEY_PREFIX + secrets.token_urlsafe(32)
        with self._transaction() as db:
            db.execute(
                "INSERT INTO users (name, role, key_sha256, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET role = excluded.role, key_sha256 = excluded.key_sha256",
                [name, role, hash_key(key), now_ts()],
            )
        return key

    def remove_user(self, name: str) -> bool:
        with self._transaction() as db:
            return db.execute("DELETE FROM users WHERE name = ?", [name]).rowcount == 1

    def user_for_key(self, key: str) -> User | None:
        row = (
            self._db()
            .execute("SELECT name, role FROM users WHERE key_sha256 = ?", [hash_key(key)])
            .fetchone()
        )
        return User(row[0], row[1]) if row else None

    def users(self) -> list[User]:
        return [User(r[0], r[1]) for r in self._db().execute("SELECT name, role FROM users ORDER BY name")]


def _append_history(db: sqlite3.Connection, alert_id: int, at: str, entry: HistoryEntry) -> None:
    db.execute(
        "INSERT INTO alert_history (alert_id, at, actor, action, from_status, to_status, note) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [alert_id, at, entry.actor, entry.action, entry.from_status, entry.to_status, entry.note],
    )


_JSON_COLUMNS = ("devices", "location", "sop", "notes")
_BOOL_COLUMNS = ("untrusted", "test")


def _encode(value: Any) -> Any:
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, bool):
        return int(value)
    return value


def _alert_item(row: sqlite3.Row) -> dict[str, Any]:
    """The alert as the API hands it out (the contract the dashboard builds on)."""
    item = dict(row)
    for column in _JSON_COLUMNS:
        item[column] = json.loads(item[column]) if item[column] is not None else None
    for column in _BOOL_COLUMNS:
        item[column] = bool(item[column])
    item["corroborating_devices"] = len(item["devices"])
    return item
