"""The aggregator's side of the secured device link, as one object `AggregatorService` starts:
the device registry, the `LinkGuard` ingest consults, the enrolment routes, the broker account.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter

from impetus.aggregator.broker_config import read_secret, refresh_access
from impetus.aggregator.device_registry import DeviceRegistry
from impetus.aggregator.enrolment_api import EnrolmentSettings, enrolment_router
from impetus.aggregator.link_guard import LinkGuard


@dataclass(frozen=True)
class LinkSecurity:
    """What `serve` enforces: the registry, the signature policy, the broker account."""

    registry_path: Path
    require_signatures: bool = False
    broker_secret: Path | None = None
    ca_cert: Path | None = None
    device_broker_url: str | None = None
    broker_dir: Path | None = None  # from broker-config: rewritten and reloaded on every change


class SecuredLink:
    def __init__(self, security: LinkSecurity) -> None:
        self.security = security
        self.registry = DeviceRegistry(security.registry_path)
        self.guard = LinkGuard(self.registry, require_signatures=security.require_signatures)
        self.username: str | None = None
        self.password: str | None = None
        if security.broker_secret is not None:
            self.username, self.password = read_secret(security.broker_secret)
        self.settings = EnrolmentSettings(
            ca_cert_pem=security.ca_cert.read_text(encoding="ascii") if security.ca_cert else None,
            device_broker_url=security.device_broker_url,
        )

    def routers(self) -> list[APIRouter]:
        return [enrolment_router(self.registry, self.settings, on_change=self.changed)]

    def changed(self, device_id: str) -> None:
        self.guard.forget(device_id)
        if self.security.broker_dir is not None:
            refresh_access(self.registry, self.security.broker_dir)

    def close(self) -> None:
        self.registry.close()
