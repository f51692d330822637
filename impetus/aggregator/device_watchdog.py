"""Heartbeat watchdog: a device not heard from for `watchdog.offline_after_s` raises a
device-offline alert, resolved by itself when the device reports again.

A device that stopped cleanly is not a device that vanished. Its last status is its own
`offline` with reason `shutdown` (a vanished device's is its Last Will, reason
`connection_lost`, or none from older agents): like an Alertmanager alert routed to nobody, it
pages no one during maintenance or an update, shows as `stopped` in the device list, and raises
a minor device-offline alert only if it is still away after `watchdog.stopped_after_s`.

Every `watchdog.check_every_s` it reads the devices table (last_seen is refreshed by events,
health and `online` status alike) and tells the correlator what changed; device changes also go
to the live feed as `{"kind": "device", "device": {...}}`. The first check after a start also
reports every device heard from in time as back, which resolves device-offline alerts left open
by a previous run for devices that returned meanwhile.
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
        stopped_after_s: float = 0.0,
        on_device_change: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self._store = store
        self._correlator = correlator
        self._offline_after_s = offline_after_s
        self._check_every_s = check_every_s
        self._stopped_after_s = stopped_after_s
        self._on_device_change = on_device_change
        self._silent: set[tuple[str, str]] = set()
        self._last_state: dict[tuple[str, str], tuple[str, bool, bool]] = {}
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
            quiet_s = (now - seen).total_seconds()
            silent = quiet_s > self._offline_after_s
            stopped = stopped_cleanly(device)
            alarm = silent and (not stopped or 0 < self._stopped_after_s < quiet_s)
            if alarm and key not in self._silent:
                self._silent.add(key)
                self._correlator.submit(DeviceSilent(key[0], key[1], seen, stopped=stopped))
            elif not alarm and (key in self._silent or key not in self._last_state):
                self._silent.discard(key)
                self._correlator.submit(DeviceBack(key[0], key[1]))
            state = (device["state"], silent, stopped)
            if self._last_state.get(key) != state:
                self._last_state[key] = state
                if self._on_device_change is not None:
                    self._on_device_change(
                        {
                            "site": device["site"],
                            "device_id": device["device_id"],
                            "state": device["state"],
                            "silent": silent,
                            "stopped": stopped,
                            "last_seen": last_seen,
                        }
                    )


def stopped_cleanly(device: dict[str, Any]) -> bool:
    """The device's last word was its own goodbye (`offline`, reason `shutdown`)."""
    status = device["last_status"] or {}
    payload = status.get("payload") or {}
    return device["state"] == "offline" and payload.get("reason") == "shutdown"
