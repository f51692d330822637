"""Outbound webhooks: every alert change POSTed as JSON or as a CAP 1.2 document, with retries.

One thread delivers in order; a failed POST (connection error, timeout, HTTP 5xx or 429) is
retried with exponential backoff up to `max_attempts`, a 4xx other than 429 is not (the receiver
refuses the message as such). The queue is bounded: when a receiver is down for long, the oldest
undelivered changes are dropped and counted, never the aggregator's memory.

    hooks = WebhookSender([Webhook("https://soc.example/hook", "json")], sender="impetus@piazza")
    hooks.start(); alerts.add_listener(hooks.enqueue)
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlparse

from impetus.aggregator.cap.export import alert_to_cap

log = logging.getLogger(__name__)

WebhookFormat = Literal["json", "cap"]
QUEUE_SIZE = 10_000


@dataclass(frozen=True)
class Webhook:
    url: str
    format: WebhookFormat = "json"

    def __post_init__(self) -> None:
        parsed = urlparse(self.url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"webhook {self.url!r}: expected an http:// or https:// URL")
        if self.format not in ("json", "cap"):
            raise ValueError(f"webhook format {self.format!r}: expected json or cap")


class WebhookSender:
    def __init__(
        self,
        hooks: list[Webhook],
        *,
        sender: str,
        max_attempts: int = 5,
        first_backoff_s: float = 0.5,
        timeout_s: float = 5.0,
    ) -> None:
        self.hooks = hooks
        self._sender = sender
        self._max_attempts = max_attempts
        self._first_backoff_s = first_backoff_s
        self._timeout_s = timeout_s
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=QUEUE_SIZE)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.counters = {"delivered": 0, "retries": 0, "failed": 0, "dropped": 0}

    def enqueue(self, alert: dict[str, Any]) -> None:
        """An alert listener: never blocks; drops the oldest change when the queue is full."""
        while True:
            try:
                self._queue.put_nowait(alert)
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()
                    self.counters["dropped"] += 1
                except queue.Empty:
                    pass

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="webhooks", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stopping.is_set():
            alert = self._queue.get()
            if alert is None:
                return
            for hook in self.hooks:
                self._deliver(hook, alert)

    def _body(self, hook: Webhook, alert: dict[str, Any]) -> tuple[bytes, str]:
        if hook.format == "cap":
            return alert_to_cap(alert, sender=self._sender), "application/cap+xml"
        return json.dumps({"kind": "alert", "alert": alert}).encode("utf-8"), "application/json"

    def _deliver(self, hook: Webhook, alert: dict[str, Any]) -> None:
        body, content_type = self._body(hook, alert)
        backoff = self._first_backoff_s
        for attempt in range(1, self._max_attempts + 1):
            request = urllib.request.Request(
                hook.url, data=body, method="POST", headers={"Content-Type": content_type}
            )
            try:
                with urllib.request.urlopen(request, timeout=self._timeout_s):
                    self.counters["delivered"] += 1
                    return
            except urllib.error.HTTPError as error:
                if error.code < 500 and error.code != 429:
                    log.warning("webhook %s refused alert %s: HTTP %s", hook.url, alert["id"], error.code)
                    self.counters["failed"] += 1
                    return
                reason = f"HTTP {error.code}"
            except (OSError, urllib.error.URLError) as error:
                reason = f"{type(error).__name__}: {error}"
            if attempt == self._max_attempts or self._stopping.is_set():
                log.warning(
                    "webhook %s: giving up on alert %s after %d attempts (%s)",
                    hook.url,
                    alert["id"],
                    attempt,
                    reason,
                )
                self.counters["failed"] += 1
                return
            self.counters["retries"] += 1
            time.sleep(backoff)
            backoff *= 2
