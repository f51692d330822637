"""Find the aggregator and its broker with zeroconf when the technician gives no URL.

The aggregator advertises `_impetus._tcp` (API) and `_mqtt._tcp` (broker). An aggregator of one
site names it in their TXT records, and a device takes it only for that site; one without a `site`
record serves any site (the enrolment token decides). A named match wins over an open one.

    found = discover("piazza", timeout_s=5)
    found.api_url, found.broker_url
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass

from zeroconf import IPVersion, ServiceBrowser, ServiceListener, Zeroconf

IMPETUS_SERVICE = "_impetus._tcp.local."
MQTT_SERVICE = "_mqtt._tcp.local."
OPEN_GRACE_S = 1.0


class NotDiscovered(RuntimeError):
    """No aggregator answered on the local network."""


@dataclass(frozen=True)
class Discovered:
    api_url: str
    broker_url: str | None


class _Collector(ServiceListener):
    def __init__(self) -> None:
        self.names: dict[str, set[str]] = {IMPETUS_SERVICE: set(), MQTT_SERVICE: set()}

    def add_service(self, zc: Zeroconf, type_: str, name: str) -> None:
        self.names[type_].add(name)

    def update_service(self, zc: Zeroconf, type_: str, name: str) -> None:
        self.names[type_].add(name)

    def remove_service(self, zc: Zeroconf, type_: str, name: str) -> None:
        self.names[type_].discard(name)


@dataclass(frozen=True)
class _Endpoint:
    host: str
    port: int
    properties: dict[str, str]
    server: str

    @property
    def named(self) -> bool:
        return "site" in self.properties


def _endpoints(zc: Zeroconf, type_: str, names: set[str], site: str) -> list[_Endpoint]:
    """The services of `type_` that take devices of `site`: those naming it first, then open ones."""
    found = []
    for name in sorted(names):
        info = zc.get_service_info(type_, name, timeout=2000)
        if info is None or not info.addresses:
            continue
        properties = {
            k.decode(): (v or b"").decode() for k, v in info.properties.items() if isinstance(k, bytes)
        }
        if properties.get("site", site) == site:
            found.append(
                _Endpoint(
                    socket.inet_ntoa(info.addresses[0]), int(info.port or 0), properties, info.server or ""
                )
            )
    return sorted(found, key=lambda endpoint: not endpoint.named)


def discover(site: str, timeout_s: float = 5.0, interfaces: list[str] | None = None) -> Discovered:
    """The aggregator for `site` and the broker it advertises beside its API (same host record).

    An open aggregator (no site) is taken only after `OPEN_GRACE_S` without one that names the site.
    """
    zc = Zeroconf(interfaces=interfaces or "all", ip_version=IPVersion.V4Only)
    collector = _Collector()
    api: _Endpoint | None = None
    broker: _Endpoint | None = None
    try:
        browser = ServiceBrowser(zc, [IMPETUS_SERVICE, MQTT_SERVICE], collector)
        deadline = time.monotonic() + timeout_s
        first_seen: float | None = None
        while time.monotonic() < deadline:
            apis = _endpoints(zc, IMPETUS_SERVICE, collector.names[IMPETUS_SERVICE], site)
            if apis:
                first_seen = first_seen or time.monotonic()
                api = apis[0]
                brokers = _endpoints(zc, MQTT_SERVICE, collector.names[MQTT_SERVICE], site)
                broker = next((b for b in brokers if b.server == api.server), None)
                settled = api.named or time.monotonic() - first_seen >= OPEN_GRACE_S
                if settled and broker is not None:
                    break
            time.sleep(0.1)
        browser.cancel()
    finally:
        zc.close()
    if api is None:
        raise NotDiscovered(
            f"no impetus aggregator for site {site!r} answered on the local network within {timeout_s:g} s; "
            "pass --aggregator http://HOST:PORT"
        )
    broker_url = None
    if broker is not None:
        scheme = "mqtts" if broker.properties.get("tls") == "1" else "mqtt"
        broker_url = f"{scheme}://{broker.host}:{broker.port}"
    return Discovered(api_url=f"http://{api.host}:{api.port}", broker_url=broker_url)
