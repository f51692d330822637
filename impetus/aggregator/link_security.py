"""The aggregator's side of the secured device link, as one object `AggregatorService` starts:
the device registry, the `LinkGuard` ingest consults, the enrolment routes, the broker account,
and the `CyberWatch` that turns what the guard refuses into findings for the SOC.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter

from impetus.aggregator.auth import READ
from impetus.aggregator.broker_config import read_secret, refresh_access
from impetus.aggregator.correlator import Correlator
from impetus.aggregator.cyber_watch import CyberFinding, CyberWatch, FindingSink, store_last_seen
from impetus.aggregator.device_registry import DeviceRegistry
from impetus.aggregator.enrolment_api import EnrolmentSettings, enrolment_router
from impetus.aggregator.ingest import Ingest
from impetus.aggregator.link_guard import DEFAULT_REPLAY_WINDOW, LinkGuard
from impetus.aggregator.store import EventStore


@dataclass(frozen=True)
class LinkSecurity:
    """What `serve` enforces: the registry, the signature policy, the broker account."""

    registry_path: Path
    require_signatures: bool = False
    broker_secret: Path | None = None
    ca_cert: Path | None = None
    device_broker_url: str | None = None
    broker_dir: Path | None = None  # from broker-config: rewritten and reloaded on every change
    replay_window: int = DEFAULT_REPLAY_WINDOW


class SecuredLink:
    def __init__(self, security: LinkSecurity) -> None:
        self.security = security
        self.registry = DeviceRegistry(security.registry_path)
        self.guard = LinkGuard(
            self.registry,
            require_signatures=security.require_signatures,
            replay_window=security.replay_window,
        )
        self.username: str | None = None
        self.password: str | None = None
        if security.broker_secret is not None:
            self.username, self.password = read_secret(security.broker_secret)
        self.settings = EnrolmentSettings(
            ca_cert_pem=security.ca_cert.read_text(encoding="ascii") if security.ca_cert else None,
            device_broker_url=security.device_broker_url,
        )
        self.finding_sinks: list[FindingSink] = []
        self.cyber = CyberWatch(self._deliver)
        self.guard.add_listener(self.cyber.on_rejection)
        self._ingest: Ingest | None = None

    def _deliver(self, finding: CyberFinding) -> None:
        for sink in list(self.finding_sinks):
            sink(finding)

    def raise_alerts(self, correlator: Correlator) -> None:
        """Findings go to the correlator like events: `cyber` alerts in the operator queue, under
        the same silences, grouping and deduplication as every other alert."""
        self.finding_sinks.append(correlator.submit)

    def attach(self, store: EventStore, ingest: Ingest) -> None:
        """Watch what ingest stores (rates, tamper then silence) once both are running."""
        self.cyber.last_seen = store_last_seen(store.devices)
        ingest.add_listener(self.cyber.on_event)
        self._ingest = ingest
        self.cyber.start()

    def routers(self) -> list[APIRouter]:
        findings = APIRouter(prefix="/api/v1/cyber", tags=["cyber"])

        @findings.get("/findings", dependencies=[READ])
        def list_findings() -> dict[str, Any]:
            """What the link guard and the cyber watch saw, newest first, with the guard's counters
            (an API key with `read`, as every SOC route)."""
            return {
                "items": [asdict(f) for f in reversed(self.cyber.findings)],
                "counters": self.guard.counters(),
            }

        return [enrolment_router(self.registry, self.settings, on_change=self.changed), findings]

    def changed(self, device_id: str) -> None:
        self.guard.forget(device_id)
        if self.security.broker_dir is not None:
            refresh_access(self.registry, self.security.broker_dir)

    def close(self) -> None:
        self.cyber.stop()
        if self._ingest is not None:
            self._ingest.remove_listener(self.cyber.on_event)
            self._ingest = None
        self.guard.save()
        self.registry.close()
