"""The SOC's HTTP face: events, devices and dead letters over REST, new events over a WebSocket.

    app = create_app(store, ingest)
    uvicorn.run(app, host="127.0.0.1", port=8080)

Query mistakes answer 422 in FastAPI's usual shape, naming the parameter and what was expected.
Events come back as the envelope the device sent plus `received_at`; technicians' test events
keep their `test: true`. No route hands out raw media.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, HTTPException, Path, Query, WebSocket, WebSocketDisconnect
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from impetus import __version__
from impetus.aggregator.alerts_api import install_soc
from impetus.aggregator.auth import MAINTAIN, READ, websocket_user
from impetus.aggregator.dashboard import mount_dashboard
from impetus.aggregator.ingest import Ingest
from impetus.aggregator.live import LiveFeed
from impetus.aggregator.soc import Soc
from impetus.aggregator.store import EventStore
from impetus.protocol import EVENT_TYPES
from impetus.protocol.ids import EVENT_ID_PATTERN
from impetus.protocol.topics import NAME_PATTERN

# Status and health describe devices (see /api/v1/devices); everything else is an event.
DETECTION_TYPES: tuple[str, ...] = tuple(t for t in EVENT_TYPES if t not in ("status", "health"))
MAX_PAGE = 1000


class EventPage(BaseModel):
    items: list[dict[str, Any]]
    total: int
    limit: int
    offset: int


class DeadLetterPage(BaseModel):
    items: list[dict[str, Any]]
    total: int
    limit: int
    offset: int


class DeviceList(BaseModel):
    items: list[dict[str, Any]]


def _invalid(name: str, value: object, message: str) -> RequestValidationError:
    return RequestValidationError(
        [{"type": "value_error", "loc": ("query", name), "msg": message, "input": value}]
    )


def _check_aware(name: str, value: datetime | None) -> None:
    if value is not None and value.tzinfo is None:
        raise _invalid(name, value.isoformat(), "timestamp must carry a timezone, e.g. 2024-05-01T10:00:00Z")


def create_app(
    store: EventStore, ingest: Ingest | None = None, routers: Sequence[APIRouter] = (), soc: Soc | None = None
) -> FastAPI:
    """The API over `store`; with `ingest`, /healthz reports the broker and /api/v1/live is fed.
    `routers` add routes of other parts (device enrolment); `soc` is the operator side (alerts,
    users), opened passively on the same database file when not given. Every route but /healthz
    needs an API key (see `auth`)."""
    feed = LiveFeed()
    own_soc = soc is None
    operator_side = soc or Soc.open(store.path)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        feed.attach(asyncio.get_running_loop())
        operator_side.feed.attach(asyncio.get_running_loop())
        if ingest is not None:
            ingest.add_listener(feed.publish_threadsafe)
        try:
            yield
        finally:
            if ingest is not None:
                ingest.remove_listener(feed.publish_threadsafe)
            feed.attach(None)
            operator_side.feed.attach(None)
            if own_soc:
                operator_side.close()

    app = FastAPI(title="impetus aggregator", version=__version__, lifespan=lifespan)
    for router in routers:
        app.include_router(router)

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        """200 when the store answers and ingest is subscribed, 503 otherwise."""
        body: dict[str, Any] = {"ok": True}
        try:
            body["events"] = store.event_count()
        except Exception as error:
            body.update(ok=False, store_error=f"{type(error).__name__}: {error}")
        if ingest is not None:
            body["broker"] = {"url": ingest.broker_url, "connected": ingest.connected}
            body["counters"] = ingest.counters()
            body["ok"] = body["ok"] and ingest.connected
        return JSONResponse(body, status_code=200 if body["ok"] else 503)

    @app.get("/api/v1/events", dependencies=[READ])
    def list_events(
        device: Annotated[str | None, Query(pattern=NAME_PATTERN, description="device_id")] = None,
        event_type: Annotated[str | None, Query(alias="type", description="one event type")] = None,
        since: Annotated[datetime | None, Query(description="ISO 8601 with timezone, inclusive")] = None,
        until: Annotated[datetime | None, Query(description="ISO 8601 with timezone, exclusive")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> EventPage:
        """Events newest first (by device timestamp), filtered and paged."""
        if event_type is not None and event_type not in DETECTION_TYPES:
            raise _invalid(
                "type", event_type, f"unknown event type; expected one of {', '.join(DETECTION_TYPES)}"
            )
        _check_aware("since", since)
        _check_aware("until", until)
        if since is not None and until is not None and since >= until:
            raise _invalid("until", until.isoformat(), "until must be later than since")
        page = store.events(
            device=device, event_type=event_type, since=since, until=until, limit=limit, offset=offset
        )
        return EventPage(items=page.items, total=page.total, limit=limit, offset=offset)

    @app.get("/api/v1/events/{event_id}", dependencies=[READ])
    def get_event(event_id: Annotated[str, Path(pattern=EVENT_ID_PATTERN)]) -> dict[str, Any]:
        item = store.event(event_id)
        if item is None:
            raise HTTPException(status_code=404, detail=f"no event {event_id}")
        return item

    @app.get("/api/v1/devices", dependencies=[READ])
    def list_devices() -> DeviceList:
        """Every device heard from: online/offline from its status, last seen, last health."""
        return DeviceList(items=store.devices())

    @app.get("/api/v1/dead-letters", dependencies=[MAINTAIN])
    def list_dead_letters(
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> DeadLetterPage:
        """Rejected messages newest first, with the reason; payloads only as a text excerpt."""
        page = store.dead_letters(limit=limit, offset=offset)
        return DeadLetterPage(items=page.items, total=page.total, limit=limit, offset=offset)

    @app.websocket("/api/v1/live")
    async def live(websocket: WebSocket) -> None:
        """Each newly stored event as one JSON message; a client that cannot keep up is closed
        with code 1013 and should resynchronise from /api/v1/events. Key: `?token=KEY` or the header."""
        if websocket_user(websocket) is None:
            await websocket.close(code=1008, reason="an API key is required: ?token=KEY")
            return
        subscriber = feed.subscribe()  # before accepting, so nothing stored after the handshake is missed
        closed_by_client: asyncio.Task[None] | None = None
        try:
            await websocket.accept()
            closed_by_client = asyncio.create_task(_until_disconnect(websocket))
            while True:
                next_item = asyncio.create_task(subscriber.queue.get())
                await asyncio.wait({next_item, closed_by_client}, return_when=asyncio.FIRST_COMPLETED)
                if closed_by_client.done():
                    next_item.cancel()
                    return
                item = next_item.result()
                if item is None:
                    await websocket.close(code=1013, reason="too slow: resynchronise from /api/v1/events")
                    return
                await websocket.send_json(item)
        except WebSocketDisconnect:
            return
        finally:
            feed.unsubscribe(subscriber)
            if closed_by_client is not None:
                closed_by_client.cancel()

    app.state.ingest = ingest
    install_soc(app, operator_side, store, feed)
    mount_dashboard(app)
    return app


async def _until_disconnect(websocket: WebSocket) -> None:
    async for _ in websocket.iter_text():
        pass
