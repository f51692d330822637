"""Operator-requested snapshots at the aggregator: ask a device for one (its `cmd` topic), keep
its answer (its `snapshot` topic), and hand the anonymised JPEG to those allowed to see it.

| route                                         | who                          | what                      |
|-----------------------------------------------|------------------------------|---------------------------|
| POST /api/v1/devices/{device_id}/snapshots    | act (operator, admin)        | ask the device; 202       |
| GET  /api/v1/snapshots                        | act or audit                 | requests and answers      |
| GET  /api/v1/snapshots/{request_id}           | act or audit                 | one request and answer    |
| GET  /api/v1/snapshots/{request_id}/image     | act or audit                 | the JPEG (logged access)  |

A technician (`read`, `maintain`) sees none of them: a snapshot is for verifying an alert and for
the privacy officer's audit, not for maintenance. Every image fetch is recorded with the user's
name, so the privacy officer can see who looked at what. The device decides whether an image may
leave (its policy, rate limit, anonymiser and audit log); the aggregator only stores what arrived
and the refusal when none did. Retention (`impetus privacy retention`) deletes old snapshots.

    desk = SnapshotDesk(db_path, broker_url, store=store)
    desk.start()
    app.include_router(desk.router())
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import paho.mqtt.client as mqtt
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import Response
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import BaseModel, Field

from impetus.aggregator.alerts_store import User
from impetus.aggregator.auth import PERMISSIONS, require
from impetus.aggregator.broker import parse_broker_url
from impetus.aggregator.store import EventStore
from impetus.protocol import ContractViolation, format_ts, new_event_id
from impetus.protocol.ids import EVENT_ID_PATTERN
from impetus.protocol.snapshots import SnapshotRequest, parse_snapshot_reply
from impetus.protocol.topics import NAME_PATTERN, ROOT, TopicError, cmd_topic, parse_topic

log = logging.getLogger(__name__)

CLIENT_ID = "impetus-aggregator-snapshots"
SNAPSHOT_SUBSCRIPTION = f"{ROOT}/+/+/snapshot"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS snapshots (
    request_id TEXT PRIMARY KEY,
    site TEXT NOT NULL,
    device_id TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    reason TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    status TEXT NOT NULL,
    answered_at TEXT,
    refusal TEXT,
    policy TEXT,
    masked TEXT,
    jpeg BLOB,
    jpeg_sha256 TEXT,
    audit_head TEXT
);
CREATE TABLE IF NOT EXISTS snapshot_access (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT NOT NULL,
    user TEXT NOT NULL,
    role TEXT NOT NULL,
    at TEXT NOT NULL
);
"""
RequestId = Annotated[str, PathParam(pattern=EVENT_ID_PATTERN)]
_COLUMNS = (
    "request_id, site, device_id, requested_by, reason, requested_at, status, answered_at, refusal, "
    "policy, masked, jpeg_sha256, audit_head, length(jpeg) AS jpeg_bytes"
)


class SnapshotAsk(BaseModel):
    reason: Annotated[str, Field(max_length=200)] = ""


def _viewer(request: Request) -> User:
    """Operators verify alerts with snapshots, privacy officers audit them; nobody else sees one."""
    user = require("read")(request)
    if not PERMISSIONS.get(user.role, frozenset()) & {"act", "audit"}:
        raise HTTPException(
            status_code=403, detail=f"role {user.role} may not see snapshots (user {user.name})"
        )
    return user


class SnapshotDesk:
    def __init__(
        self,
        db_path: Path | str,
        broker_url: str,
        *,
        store: EventStore,
        username: str | None = None,
        password: str | None = None,
        client_id: str = CLIENT_ID,
    ) -> None:
        self.store = store
        self._db = sqlite3.connect(db_path, timeout=10.0, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        with self._lock, self._db:
            self._db.executescript(_SCHEMA)
        self._host, self._port = parse_broker_url(broker_url)
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311, clean_session=True
        )
        if username is not None:
            self._client.username_pw_set(username, password)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = lambda *args: self._subscribed.set()
        self._client.on_message = self._on_message
        self._subscribed = threading.Event()

    def start(self, timeout: float = 10.0) -> None:
        self._client.connect_async(self._host, self._port, keepalive=30)
        self._client.loop_start()
        if not self._subscribed.wait(timeout):
            self.stop()
            raise RuntimeError(
                f"snapshots: could not subscribe at {self._host}:{self._port} within {timeout} s"
            )

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
        with self._lock:
            self._db.close()

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if not reason.is_failure:
            client.subscribe(SNAPSHOT_SUBSCRIPTION, qos=1)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            parts = parse_topic(message.topic)
            reply = parse_snapshot_reply(message.payload)
            if (reply.site, reply.device_id) != (parts.site, parts.device_id):
                raise ContractViolation("wrong_topic", f"reply of {reply.device_id} on {message.topic}")
        except (TopicError, ContractViolation) as error:
            log.warning("snapshot reply on %s rejected: %s", message.topic, error)
            return
        with self._lock, self._db:
            updated = self._db.execute(
                "UPDATE snapshots SET status = ?, answered_at = ?, refusal = ?, policy = ?, masked = ?, "
                "jpeg = ?, jpeg_sha256 = ?, audit_head = ? "
                "WHERE request_id = ? AND site = ? AND device_id = ? AND status = 'requested'",
                (
                    reply.status,
                    format_ts(datetime.now(UTC)),
                    reply.reason or None,
                    reply.policy,
                    json.dumps(reply.masked),
                    reply.jpeg() if reply.status == "sent" else None,
                    reply.jpeg_sha256,
                    reply.audit_head,
                    reply.request_id,
                    reply.site,
                    reply.device_id,
                ),
            ).rowcount
        if not updated:
            log.warning(
                "snapshot reply %s from %s answers no open request", reply.request_id, reply.device_id
            )

    def request(self, device_id: str, requested_by: str, reason: str = "") -> dict[str, Any]:
        """Ask a device for a snapshot; the answer arrives later (poll `get`)."""
        sites = [d["site"] for d in self.store.devices() if d["device_id"] == device_id]
        if not sites:
            raise KeyError(device_id)
        ask = SnapshotRequest(request_id=new_event_id(), requested_by=requested_by, reason=reason)
        with self._lock, self._db:
            self._db.execute(
                "INSERT INTO snapshots (request_id, site, device_id, requested_by, reason, requested_at, "
                "status) VALUES (?, ?, ?, ?, ?, ?, 'requested')",
                (ask.request_id, sites[0], device_id, requested_by, reason, format_ts(datetime.now(UTC))),
            )
        self._client.publish(cmd_topic(sites[0], device_id), ask.model_dump_json(), qos=1)
        found = self.get(ask.request_id)
        assert found is not None
        return found

    def get(self, request_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM snapshots WHERE request_id = ?", (request_id,)
            ).fetchone()
        return _item(row) if row else None

    def items(self, device_id: str | None, limit: int, offset: int) -> list[dict[str, Any]]:
        where, args = ("WHERE device_id = ?", [device_id]) if device_id else ("", [])
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM snapshots {where} ORDER BY requested_at DESC, request_id DESC "
                "LIMIT ? OFFSET ?",
                (*args, limit, offset),
            ).fetchall()
        return [_item(row) for row in rows]

    def image(self, request_id: str, user: User) -> bytes | None:
        """The JPEG, and a line in `snapshot_access` saying who fetched it."""
        with self._lock, self._db:
            row = self._db.execute(
                "SELECT jpeg FROM snapshots WHERE request_id = ?", (request_id,)
            ).fetchone()
            if row is None or row["jpeg"] is None:
                return None
            self._db.execute(
                "INSERT INTO snapshot_access (request_id, user, role, at) VALUES (?, ?, ?, ?)",
                (request_id, user.name, user.role, format_ts(datetime.now(UTC))),
            )
        return bytes(row["jpeg"])

    def accesses(self, request_id: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT user, role, at FROM snapshot_access WHERE request_id = ? ORDER BY id", (request_id,)
            ).fetchall()
        return [dict(row) for row in rows]

    def router(self) -> APIRouter:
        router = APIRouter()
        viewer = Depends(_viewer)
        actor = Depends(require("act"))

        @router.post("/api/v1/devices/{device_id}/snapshots", status_code=202)
        def ask(
            device_id: Annotated[str, PathParam(pattern=NAME_PATTERN)],
            body: SnapshotAsk,
            user: User = actor,
        ) -> dict[str, Any]:
            """Ask the device for one anonymised snapshot; whether one comes is the device's policy."""
            try:
                return self.request(device_id, user.name, body.reason)
            except KeyError:
                raise HTTPException(
                    status_code=404, detail=f"no device {device_id} has been heard from"
                ) from None

        @router.get("/api/v1/snapshots", dependencies=[viewer])
        def list_snapshots(
            device: Annotated[str | None, Query(pattern=NAME_PATTERN)] = None,
            limit: Annotated[int, Query(ge=1, le=1000)] = 100,
            offset: Annotated[int, Query(ge=0)] = 0,
        ) -> dict[str, Any]:
            return {"items": self.items(device, limit, offset), "limit": limit, "offset": offset}

        @router.get("/api/v1/snapshots/{request_id}", dependencies=[viewer])
        def one(request_id: RequestId) -> dict[str, Any]:
            item = self.get(request_id)
            if item is None:
                raise HTTPException(status_code=404, detail=f"no snapshot request {request_id}")
            return item | {"accesses": self.accesses(request_id)}

        @router.get("/api/v1/snapshots/{request_id}/image")
        def image(request_id: RequestId, user: User = viewer) -> Response:
            jpeg = self.image(request_id, user)
            if jpeg is None:
                raise HTTPException(
                    status_code=404, detail=f"snapshot {request_id} has no image (refused or pending)"
                )
            return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})

        return router


def _item(row: sqlite3.Row) -> dict[str, Any]:
    item = dict(row)
    item["masked"] = json.loads(item["masked"]) if item["masked"] else None
    return item
