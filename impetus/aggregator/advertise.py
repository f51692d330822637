"""Announce the aggregator and its broker on the local network with zeroconf (mDNS/DNS-SD), so a
technician's `impetus edge provision` finds them without typing an address.

`impetus aggregator serve` advertises by default (`--no-advertise` to stop it):

    with Advertiser(site="piazza", api_port=8080, broker_port=8883, tls=True, addresses=["10.0.0.5"]):
        ...

Services: `_impetus._tcp.local.` (the API: TXT `path=/api/v1`) and `_mqtt._tcp.local.` (TXT
`tls=1|0`), both with TXT `site` when the aggregator serves one site only (without it, devices of
any site take it: the token decides the site). Registration probes the network for about 1.6 s
per service, so it runs on a thread of its own and never delays the start of the API. Tests pass
`interfaces=["127.0.0.1"]` to stay on loopback.
"""

from __future__ import annotations

import logging
import socket
import threading
from dataclasses import dataclass
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit

import ifaddr
from zeroconf import IPVersion, ServiceInfo, Zeroconf

log = logging.getLogger(__name__)

IMPETUS_SERVICE = "_impetus._tcp.local."
MQTT_SERVICE = "_mqtt._tcp.local."
WILDCARD_HOSTS = ("", "0.0.0.0", "::")


@dataclass(frozen=True)
class Advertising:
    """How `AggregatorService` announces itself: for which site (None: any) and on which of this
    machine's IPv4 addresses (None: the API's listen address, or all of them for 0.0.0.0)."""

    site: str | None = None
    interfaces: list[str] | None = None


def reachable_addresses(listen_host: str, interfaces: list[str] | None = None) -> list[str]:
    """The IPv4 addresses devices reach an API listening on `listen_host` at."""
    if interfaces:
        return list(interfaces)
    if listen_host not in WILDCARD_HOSTS:
        return [socket.gethostbyname(listen_host)]
    found = [
        str(ip.ip)
        for adapter in ifaddr.get_adapters()
        for ip in adapter.ips
        if ip.is_IPv4 and not str(ip.ip).startswith("127.")
    ]
    return found or ["127.0.0.1"]


class Advertiser:
    def __init__(
        self,
        *,
        site: str | None,
        api_port: int,
        broker_port: int,
        tls: bool,
        addresses: list[str],
        interfaces: list[str] | None = None,
        instance: str | None = None,
    ) -> None:
        if not addresses:
            raise ValueError("advertising needs at least one IPv4 address devices can reach")
        self.site = site
        self.addresses = addresses
        name = instance or f"impetus-{site or 'soc'}-{socket.gethostname().split('.')[0]}-{api_port}"
        packed = [socket.inet_aton(address) for address in addresses]
        server = f"{name}.local."
        scope = {"site": site} if site is not None else {}
        self.infos = [
            ServiceInfo(
                IMPETUS_SERVICE,
                f"{name}.{IMPETUS_SERVICE}",
                addresses=packed,
                port=api_port,
                properties={**scope, "path": "/api/v1"},
                server=server,
            ),
            ServiceInfo(
                MQTT_SERVICE,
                f"{name}.{MQTT_SERVICE}",
                addresses=packed,
                port=broker_port,
                properties={**scope, "tls": "1" if tls else "0"},
                server=server,
            ),
        ]
        self._interfaces = interfaces
        self._zeroconf: Zeroconf | None = None
        self._thread: threading.Thread | None = None
        self.registered = threading.Event()

    def start(self) -> None:
        """Open the mDNS sockets now; register both services on a background thread."""
        self._zeroconf = Zeroconf(interfaces=self._interfaces or "all", ip_version=IPVersion.V4Only)
        self._thread = threading.Thread(target=self._register, args=(self._zeroconf,), name="advertise")
        self._thread.start()

    def _register(self, zeroconf: Zeroconf) -> None:
        try:
            for info in self.infos:
                zeroconf.register_service(info)
        except Exception as error:
            log.warning("zeroconf advertising failed; devices need --aggregator URL: %s", error)
            return
        self.registered.set()

    def stop(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._zeroconf is not None:
            self._zeroconf.unregister_all_services()
            self._zeroconf.close()
            self._zeroconf = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()


def advertiser_for(
    advertising: Advertising, listen_host: str, api_port: int, device_broker_url: str
) -> Advertiser:
    """The advertiser of a running aggregator: its API, and the broker devices are handed. An API
    listening on one address is announced on that interface only (loopback stays on loopback)."""
    broker = urlsplit(device_broker_url)
    tls = broker.scheme == "mqtts"
    addresses = reachable_addresses(listen_host, advertising.interfaces)
    return Advertiser(
        site=advertising.site,
        api_port=api_port,
        broker_port=broker.port or (8883 if tls else 1883),
        tls=tls,
        addresses=addresses,
        interfaces=advertising.interfaces or (addresses if listen_host not in WILDCARD_HOSTS else None),
    )
