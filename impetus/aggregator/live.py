"""Fan-out of newly stored events to WebSocket clients, without ever slowing ingest down.

Ingest calls `publish_threadsafe` from its own thread; the item crosses into the API's asyncio
loop and is offered to each client's bounded queue. A client that falls a full queue behind is
dropped (its queue ends with `None`) and resynchronises from the REST API: ingest never waits.
"""

from __future__ import annotations

import asyncio
from typing import Any

DEFAULT_QUEUE_SIZE = 256


class LiveSubscriber:
    def __init__(self, queue_size: int) -> None:
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(maxsize=queue_size)
        self.dropped = False


class LiveFeed:
    def __init__(self, queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        self._queue_size = queue_size
        self._subscribers: set[LiveSubscriber] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    def attach(self, loop: asyncio.AbstractEventLoop | None) -> None:
        """Bind to the loop the WebSocket handlers run on (`None` detaches)."""
        self._loop = loop

    @property
    def client_count(self) -> int:
        return len(self._subscribers)

    def subscribe(self) -> LiveSubscriber:
        subscriber = LiveSubscriber(self._queue_size)
        self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: LiveSubscriber) -> None:
        self._subscribers.discard(subscriber)

    def publish_threadsafe(self, item: dict[str, Any]) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._fan_out, item)

    def _fan_out(self, item: dict[str, Any]) -> None:
        for subscriber in list(self._subscribers):
            try:
                subscriber.queue.put_nowait(item)
            except asyncio.QueueFull:
                self._drop(subscriber)

    def _drop(self, subscriber: LiveSubscriber) -> None:
        self._subscribers.discard(subscriber)
        subscriber.dropped = True
        while not subscriber.queue.empty():
            subscriber.queue.get_nowait()
        subscriber.queue.put_nowait(None)
