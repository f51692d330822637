"""The operator side in one object: alert store, rules, site plan, correlator, watchdog, webhooks,
metrics and the live feed of alert and device changes.

`Soc.open` gives the passive parts (what the API needs to answer); `start` adds the threads and
hooks them to ingest. `AggregatorService` does both; a bare `create_app(store)` only opens.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from impetus.aggregator.alert_rules import Rules, load_rules
from impetus.aggregator.alerts_store import AlertStore
from impetus.aggregator.correlator import Correlator
from impetus.aggregator.device_watchdog import DeviceWatchdog
from impetus.aggregator.ingest import Ingest
from impetus.aggregator.live import LiveFeed
from impetus.aggregator.metrics import IngestMetrics
from impetus.aggregator.store import EventStore
from impetus.aggregator.webhooks import Webhook, WebhookSender
from impetus.protocol.site import SiteDescription


@dataclass(frozen=True)
class SocConfig:
    """How `AggregatorService` sets up the operator side (`serve --rules/--site-plan/--webhook`)."""

    rules: Rules | None = None
    site: SiteDescription | None = None
    webhooks: Sequence[Webhook] = ()
    admin_key: str | None = None
    sop_dir: Path | None = None


def ensure_admin(alerts: AlertStore, admin_key: str | None) -> str | None:
    """With `admin_key`, user `admin` gets it; with none and no users yet, a new key for `admin`
    is made and returned (printed once by `serve`). None when nothing new needs telling."""
    if admin_key is not None:
        alerts.add_user("admin", "admin", admin_key)
        return None
    if alerts.users():
        return None
    return alerts.add_user("admin", "admin")


@dataclass
class Soc:
    alerts: AlertStore
    rules: Rules
    site: SiteDescription | None = None
    feed: LiveFeed = field(default_factory=LiveFeed)
    ingest_metrics: IngestMetrics = field(default_factory=IngestMetrics)
    correlator: Correlator | None = None
    watchdog: DeviceWatchdog | None = None
    webhooks: WebhookSender | None = None
    _ingest: Ingest | None = None

    @classmethod
    def open(
        cls,
        db_path: Path | str,
        *,
        rules: Rules | None = None,
        site: SiteDescription | None = None,
    ) -> Soc:
        alerts = AlertStore(db_path)
        soc = cls(alerts, rules or load_rules(), site)
        alerts.add_listener(soc._publish_alert)
        return soc

    @property
    def sender(self) -> str:
        return f"impetus@{self.site.site}" if self.site is not None else "impetus"

    def _publish_alert(self, alert: dict[str, Any]) -> None:
        self.feed.publish_threadsafe({"kind": "alert", "alert": alert})

    def _publish_device(self, device: dict[str, Any]) -> None:
        self.feed.publish_threadsafe({"kind": "device", "device": device})

    def start(
        self,
        store: EventStore,
        ingest: Ingest | None,
        webhooks: Sequence[Webhook] = (),
        sop_dir: Path | None = None,
    ) -> None:
        """Run the correlator on what ingest stores, the watchdog on the devices, and the webhooks."""
        self.correlator = Correlator(self.alerts, self.rules, self.site, sop_dir, events=store)
        self.correlator.start()
        watchdog = self.rules.watchdog
        self.watchdog = DeviceWatchdog(
            store,
            self.correlator,
            offline_after_s=watchdog.offline_after_s,
            check_every_s=watchdog.check_every_s,
            stopped_after_s=watchdog.stopped_after_s,
            on_device_change=self._publish_device,
        )
        self.watchdog.start()
        if webhooks:
            self.webhooks = WebhookSender(list(webhooks), sender=self.sender)
            self.webhooks.start()
            self.alerts.add_listener(self.webhooks.enqueue)
        if ingest is not None:
            ingest.add_listener(self.ingest_metrics)
            ingest.add_listener(self.correlator.submit)
            self._ingest = ingest

    def stop(self) -> None:
        if self._ingest is not None and self.correlator is not None:
            self._ingest.remove_listener(self.correlator.submit)
            self._ingest.remove_listener(self.ingest_metrics)
            self._ingest = None
        if self.watchdog is not None:
            self.watchdog.stop()
        if self.correlator is not None:
            self.correlator.stop()
        if self.webhooks is not None:
            self.webhooks.stop()

    def close(self) -> None:
        self.stop()
        self.alerts.close()
