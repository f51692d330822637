"""Heartbeat watchdog: a device not heard from for `watchdog.offline_after_s` raises a
device-offline alert, resolved by itself when the device reports again.

Every `watchdog.check_every_s` it reads the devices table (last_seen is refreshed by events,
health and `online` status alike) and tells the correlator what changed; device changes also go
to the live feed as `{"kind": "device", "device": {...}}`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from impetus.aggregator.correlator import Correlator, DeviceBack, DeviceSilent
from impetus.aggregator.store import EventStore

log = logging.getLogger(__name__)


class DeviceWatchdog:
    def __init__(
        self,
        store: EventStore,
        correlator: Correlator,
        *,
        offline_after_s: float,
        check_every_s: float,
        on_device_change: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self._store = store
        self._correlator = correlator
        self._offline_after_s = offline_after_s
        self._check_every_s = check_every_s
        self._on_device_change = on_device_change
        self._silent: set[tuple[str, str]] = set()
        self._last_state: dict[tuple[str, str], tuple[str, bool]] = {}
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="watchdog", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stopping.wait(self._check_every_s):
            try:
                self.check(datetime.now(UTC))
            except Exception:
                log.exception("watchdog check failed; trying again next round")

    def check(self, now: datetime) -> None:
        for device in self._store.devices():
            key = (device["site"], device["device_id"])
            last_seen = device["last_seen"]
            if last_seen is None:
                continue
            seen = datetime.fromisoformat(last_seen.replace("Z", "+00:00"))
            silent = (now - seen).total_seconds() > self._offline_after_s
            if silent and key not in self._silent:
                self._silent.add(key)
                self._correlator.submit(DeviceSilent(key[0], key[1], seen))
            elif not silent and key in self._silent:
                self._silent.discard(key)
                self._correlator.submit(DeviceBack(key[0], key[1]))
            state = (device["state"], silent)
            if self._last_state.get(key) != state:
                self._last_state[key] = state
                if self._on_device_change is not None:
                    self._on_device_change(
                        {
                            "site": device["site"],
                            "device_id": device["device_id"],
                            "state": device["state"],
                            "silent": silent,
                            "last_seen": last_seen,
                        }
                    )
