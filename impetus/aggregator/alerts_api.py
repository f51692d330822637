"""The operator's routes: alerts and their lifecycle, CAP export, silences, rules, site plan,
operator workload, who am I, Prometheus metrics, and the WebSocket of alert and device changes.

`install_soc(app, soc, store)` adds them to the app `create_app` builds. Every route needs an API
key (see `auth`); a transition the alert's state does not allow answers 409 with the reason.
"""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query, WebSocket, WebSocketDisconnect
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, Field, model_validator

from impetus.aggregator import alert_lifecycle as lifecycle
from impetus.aggregator.alert_rules import ALERT_TYPES, SEVERITIES
from impetus.aggregator.alerts_store import User
from impetus.aggregator.auth import require, websocket_user
from impetus.aggregator.cap.export import alert_to_cap
from impetus.aggregator.live import LiveFeed
from impetus.aggregator.metrics import MetricsText
from impetus.aggregator.soc import Soc
from impetus.aggregator.store import EventStore
from impetus.protocol import format_ts
from impetus.protocol.topics import NAME_PATTERN

STATUSES = ("new", "acknowledged", "assigned", "resolved", "false_alarm")
MAX_PAGE = 1000
MAX_DETAIL_EVENTS = 500
AlertId = Annotated[int, Path(ge=1)]
Actor = Annotated[User, Depends(require("act"))]
Silencer = Annotated[User, Depends(require("silence"))]
Reader = Annotated[User, Depends(require("read"))]


class AlertPage(BaseModel):
    items: list[dict[str, Any]]
    total: int
    next: int | None = Field(
        default=None,
        description="pass as `before` for the following page; null once this page is the last",
    )


class AssignBody(BaseModel):
    assignee: Annotated[str, Field(min_length=1, max_length=100)]


class NoteBody(BaseModel):
    note: Annotated[str, Field(max_length=lifecycle.MAX_NOTE_CHARS)] = ""


class TextBody(BaseModel):
    text: Annotated[str, Field(min_length=1, max_length=lifecycle.MAX_NOTE_CHARS)]


class StepBody(BaseModel):
    done: bool


class SilenceBody(BaseModel):
    site: Annotated[str | None, Field(pattern=NAME_PATTERN)] = None
    zone: Annotated[str | None, Field(pattern=NAME_PATTERN)] = None
    device: Annotated[str | None, Field(pattern=NAME_PATTERN)] = None
    type: Literal[ALERT_TYPES] | None = None  # type: ignore[valid-type]
    starts_at: datetime | None = Field(default=None, description="default: now")
    ends_at: datetime
    comment: Annotated[str, Field(min_length=1, max_length=500)]

    @model_validator(mode="after")
    def _sane(self) -> SilenceBody:
        for name in ("starts_at", "ends_at"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"{name} must carry a timezone, e.g. 2025-06-01T10:00:00Z")
        if not any((self.site, self.zone, self.device, self.type)):
            raise ValueError("a silence must match something: give at least one of site, zone, device, type")
        if self.ends_at <= (self.starts_at or datetime.now(UTC)):
            raise ValueError("ends_at must be later than starts_at (or than now)")
        return self


def _found(alert: dict[str, Any] | None, alert_id: int) -> dict[str, Any]:
    if alert is None:
        raise HTTPException(status_code=404, detail=f"no alert {alert_id}")
    return alert


def _act(call: Callable[[], dict[str, Any] | None], alert_id: int) -> dict[str, Any]:
    try:
        return _found(call(), alert_id)
    except lifecycle.TransitionError as refused:
        raise HTTPException(status_code=409, detail=str(refused)) from None
    except LookupError as missing:
        raise HTTPException(status_code=404, detail=str(missing)) from None


def operator_stats(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per operator: alerts they hold open, how many they acknowledged, time-to-acknowledge."""
    stats: dict[str, dict[str, Any]] = {}

    def entry(name: str) -> dict[str, Any]:
        return stats.setdefault(name, {"name": name, "open": 0, "acknowledged": 0, "_tta": []})

    for row in rows:
        if row["acknowledged_by"]:
            who = entry(row["acknowledged_by"])
            who["acknowledged"] += 1
            created = datetime.fromisoformat(row["created_at"].replace("Z", "+00:00"))
            acked = datetime.fromisoformat(row["acknowledged_at"].replace("Z", "+00:00"))
            who["_tta"].append((acked - created).total_seconds())
        holder = row["assignee"] if row["status"] == "assigned" else None
        if holder is None and row["status"] == "acknowledged":
            holder = row["acknowledged_by"]
        if holder:
            entry(holder)["open"] += 1
    result = []
    for who in sorted(stats.values(), key=lambda s: s["name"]):
        tta = who.pop("_tta")
        who["tta_mean_s"] = round(statistics.fmean(tta), 3) if tta else None
        who["tta_median_s"] = round(statistics.median(tta), 3) if tta else None
        result.append(who)
    return result


def install_soc(app: FastAPI, soc: Soc, store: EventStore, event_feed: LiveFeed | None = None) -> None:
    """Add the operator routes over `soc` and `store` to `app`, and the key check they all use."""
    app.state.users = soc.alerts
    app.state.soc = soc
    router = APIRouter(prefix="/api/v1")
    read = Depends(require("read"))

    @router.get("/alerts", dependencies=[read], tags=["alerts"])
    def list_alerts(
        status: Literal[STATUSES] | None = None,  # type: ignore[valid-type]
        severity: Literal[SEVERITIES] | None = None,  # type: ignore[valid-type]
        alert_type: Annotated[Literal[ALERT_TYPES] | None, Query(alias="type")] = None,  # type: ignore[valid-type]
        site: Annotated[str | None, Query(pattern=NAME_PATTERN)] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
        before: Annotated[int | None, Query(ge=1, description="the `next` of the previous page")] = None,
    ) -> AlertPage:
        """Alerts newest first, filtered and paged. Page with `before` (the previous page's
        `next`): as fast on the thousandth page as on the first; `offset` slows with depth."""
        items, total = soc.alerts.page(
            status=status,
            severity=severity,
            alert_type=alert_type,
            site=site,
            limit=limit,
            offset=offset,
            before=before,
        )
        return AlertPage(items=items, total=total, next=items[-1]["id"] if len(items) == limit else None)

    @router.get("/alerts/{alert_id}", dependencies=[read], tags=["alerts"])
    def get_alert(alert_id: AlertId) -> dict[str, Any]:
        """The alert with its events (oldest first, each marked if untrusted) and its audit trail."""
        alert = _found(soc.alerts.alert(alert_id), alert_id)
        events = []
        for event_id, untrusted in soc.alerts.event_links(alert_id, MAX_DETAIL_EVENTS):
            item = store.event(event_id)
            if item is not None:
                events.append({**item, "untrusted": untrusted})
        events.sort(key=lambda e: e["ts"])
        return {**alert, "events": events, "history": soc.alerts.history(alert_id)}

    @router.post("/alerts/{alert_id}/ack", tags=["alerts"])
    def ack(alert_id: AlertId, user: Actor) -> dict[str, Any]:
        return _act(lambda: lifecycle.acknowledge(soc.alerts, alert_id, user.name), alert_id)

    @router.post("/alerts/{alert_id}/assign", tags=["alerts"])
    def assign(alert_id: AlertId, body: AssignBody, user: Actor) -> dict[str, Any]:
        return _act(lambda: lifecycle.assign(soc.alerts, alert_id, user.name, body.assignee), alert_id)

    @router.post("/alerts/{alert_id}/resolve", tags=["alerts"])
    def resolve(alert_id: AlertId, body: NoteBody, user: Actor) -> dict[str, Any]:
        return _act(lambda: lifecycle.close(soc.alerts, alert_id, user.name, "resolved", body.note), alert_id)

    @router.post("/alerts/{alert_id}/false-alarm", tags=["alerts"])
    def false_alarm(alert_id: AlertId, body: NoteBody, user: Actor) -> dict[str, Any]:
        return _act(
            lambda: lifecycle.close(soc.alerts, alert_id, user.name, "false_alarm", body.note), alert_id
        )

    @router.post("/alerts/{alert_id}/notes", tags=["alerts"])
    def add_note(alert_id: AlertId, body: TextBody, user: Actor) -> dict[str, Any]:
        return _act(lambda: lifecycle.add_note(soc.alerts, alert_id, user.name, body.text), alert_id)

    @router.post("/alerts/{alert_id}/sop/{step}", tags=["alerts"])
    def tick(
        alert_id: AlertId,
        step: Annotated[int, Path(ge=1)],
        body: StepBody,
        user: Actor,
    ) -> dict[str, Any]:
        return _act(lambda: lifecycle.tick(soc.alerts, alert_id, user.name, step, body.done), alert_id)

    @router.get(
        "/alerts/{alert_id}/cap",
        dependencies=[read],
        tags=["alerts"],
        response_class=Response,
        responses={200: {"content": {"application/xml": {}}}},
    )
    def cap(alert_id: AlertId) -> Response:
        """The alert as a CAP 1.2 message (validates against the OASIS schema)."""
        alert = _found(soc.alerts.alert(alert_id), alert_id)
        name = soc.site.name if soc.site is not None else None
        return Response(alert_to_cap(alert, sender=soc.sender, site_name=name), media_type="application/xml")

    @router.get("/silences", dependencies=[read], tags=["silences"])
    def list_silences(active: bool = False) -> dict[str, Any]:
        """Silences not deleted, newest first; `active=true`: only those in force now."""
        return {"items": soc.alerts.silences(active_at=format_ts(datetime.now(UTC)) if active else None)}

    @router.post("/silences", status_code=201, tags=["silences"])
    def add_silence(body: SilenceBody, user: Silencer) -> dict[str, Any]:
        """A maintenance window: matching events raise and join no alert until `ends_at`."""
        return soc.alerts.add_silence(
            {
                "site": body.site,
                "zone": body.zone,
                "device": body.device,
                "type": body.type,
                "starts_at": format_ts(body.starts_at or datetime.now(UTC)),
                "ends_at": format_ts(body.ends_at),
                "author": user.name,
                "comment": body.comment,
            }
        )

    @router.delete("/silences/{silence_id}", status_code=204, tags=["silences"])
    def delete_silence(silence_id: Annotated[int, Path(ge=1)], user: Silencer) -> None:
        if not soc.alerts.delete_silence(silence_id, user.name):
            raise HTTPException(status_code=404, detail=f"no active silence {silence_id}")

    @router.get("/rules", dependencies=[read], tags=["rules"])
    def rules() -> dict[str, Any]:
        """The correlation rules in force (defaults documented in rules/default.toml)."""
        return soc.rules.model_dump(mode="json")

    @router.get("/site", dependencies=[read], tags=["site"])
    def site() -> dict[str, Any]:
        if soc.site is None:
            raise HTTPException(
                status_code=404, detail="no site plan: start the aggregator with --site-plan FILE"
            )
        return soc.site.model_dump(mode="json")

    @router.get("/operators/stats", dependencies=[read], tags=["alerts"])
    def operators() -> dict[str, Any]:
        """Workload: alerts each operator holds open, acknowledged, and their time-to-acknowledge."""
        counts = soc.alerts.counts_by("status")
        return {
            "operators": operator_stats(soc.alerts.operator_rows()),
            "unacknowledged": counts.get("new", 0),
        }

    @router.get("/whoami", tags=["users"])
    def whoami(user: Reader) -> dict[str, str]:
        return {"name": user.name, "role": user.role}

    @router.websocket("/alerts/live")
    async def alerts_live(websocket: WebSocket) -> None:
        """Every alert change as `{"kind": "alert", "alert": {...}}` and device state changes as
        `{"kind": "device", "device": {...}}`. Authenticate with `?token=KEY`; without one the
        handshake is refused (HTTP 403)."""
        if websocket_user(websocket) is None:
            await websocket.close(code=1008, reason="an API key is required: ?token=KEY")
            return
        subscriber = soc.feed.subscribe()
        try:
            await websocket.accept()
            closed = asyncio.create_task(_drain(websocket))
            try:
                while True:
                    next_item = asyncio.create_task(subscriber.queue.get())
                    await asyncio.wait({next_item, closed}, return_when=asyncio.FIRST_COMPLETED)
                    if closed.done():
                        next_item.cancel()
                        return
                    item = next_item.result()
                    if item is None:
                        await websocket.close(code=1013, reason="too slow: resynchronise from /api/v1/alerts")
                        return
                    await websocket.send_json(item)
            finally:
                closed.cancel()
        except WebSocketDisconnect:
            return
        finally:
            soc.feed.unsubscribe(subscriber)

    app.include_router(router)

    @app.get("/metrics", dependencies=[read], response_class=PlainTextResponse, tags=["metrics"])
    def metrics() -> PlainTextResponse:
        """Prometheus text format; scrape with `authorization: {credentials: KEY}`."""
        text = MetricsText()
        by_type, last_lag, mean_lag = soc.ingest_metrics.snapshot()
        text.add(
            "impetus_events_ingested_total",
            "counter",
            "Events stored since start, by type.",
            [({"type": t}, n) for t, n in sorted(by_type.items())],
        )
        ingest = getattr(app.state, "ingest", None)
        counters = ingest.counters() if ingest is not None else {}
        text.add(
            "impetus_dead_letters_total",
            "counter",
            "Messages refused by the wire contract since start.",
            [({}, counters.get("dead_letters", 0))],
        )
        text.add(
            "impetus_duplicates_total",
            "counter",
            "Redelivered events ignored.",
            [({}, counters.get("duplicates", 0))],
        )
        by_status = soc.alerts.counts_by("status")
        text.add(
            "impetus_alerts",
            "gauge",
            "Alerts by status.",
            [({"status": s}, by_status.get(s, 0)) for s in STATUSES],
        )
        correlator = soc.correlator.counters if soc.correlator is not None else {}
        for name, help_text in (
            ("silenced", "Events that matched a silence."),
            ("untrusted", "Events from devices that reported tampering."),
            ("alerts_raised", "Alerts the correlator raised."),
        ):
            text.add(
                f"impetus_correlator_{name}_total", "counter", help_text, [({}, correlator.get(name, 0))]
            )
        text.add(
            "impetus_ingest_lag_seconds",
            "gauge",
            "Device timestamp to storage, last event and mean of the last 1000.",
            [({"stat": "last"}, last_lag or 0.0), ({"stat": "mean"}, mean_lag or 0.0)],
        )
        clients = [({"feed": "alerts"}, soc.feed.client_count)]
        if event_feed is not None:
            clients.append(({"feed": "events"}, event_feed.client_count))
        text.add("impetus_websocket_clients", "gauge", "Connected WebSocket clients.", clients)
        hooks = soc.webhooks.counters if soc.webhooks is not None else {}
        text.add(
            "impetus_webhook_deliveries_total",
            "counter",
            "Webhook POSTs by outcome.",
            [({"outcome": k}, hooks.get(k, 0)) for k in ("delivered", "retries", "failed", "dropped")],
        )
        return PlainTextResponse(text.render(), media_type="text/plain; version=0.0.4")


async def _drain(websocket: WebSocket) -> None:
    async for _ in websocket.iter_text():
        pass
