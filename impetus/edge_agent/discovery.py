"""Find the aggregator and its broker with zeroconf when the technician gives no URL.

The aggregator advertises `_impetus._tcp` (API) and `_mqtt._tcp` (broker); both carry the site
in their TXT records, so a device only takes the aggregator of its own site.

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


def _endpoint(zc: Zeroconf, type_: str, names: set[str], site: str) -> tuple[str, int, dict[str, str]] | None:
    for name in sorted(names):
        info = zc.get_service_info(type_, name, timeout=2000)
        if info is None or not info.addresses:
            continue
        properties = {
            k.decode(): (v or b"").decode() for k, v in info.properties.items() if isinstance(k, bytes)
        }
        if properties.get("site") != site:
            continue
        return socket.inet_ntoa(info.addresses[0]), int(info.port or 0), properties
    return None


def discover(site: str, timeout_s: float = 5.0, interfaces: list[str] | None = None) -> Discovered:
    zc = Zeroconf(interfaces=interfaces or "all", ip_version=IPVersion.V4Only)
    collector = _Collector()
    try:
        browser = ServiceBrowser(zc, [IMPETUS_SERVICE, MQTT_SERVICE], collector)
        deadline = time.monotonic() + timeout_s
        api = broker = None
        while time.monotonic() < deadline:
            api = api or _endpoint(zc, IMPETUS_SERVICE, collector.names[IMPETUS_SERVICE], site)
            broker = broker or _endpoint(zc, MQTT_SERVICE, collector.names[MQTT_SERVICE], site)
            if api is not None and broker is not None:
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
        host, port, props = broker
        broker_url = f"{'mqtts' if props.get('tls') == '1' else 'mqtt'}://{host}:{port}"
    return Discovered(api_url=f"http://{api[0]}:{api[1]}", broker_url=broker_url)
