"""Announce the aggregator and its broker on the local network with zeroconf (mDNS/DNS-SD), so a
technician's `impetus edge provision` finds them without typing an address.

    with Advertiser(site="piazza", api_port=8080, broker_port=8883, tls=True, addresses=["10.0.0.5"]):
        ...

Services: `_impetus._tcp.local.` (the API: TXT `site`, `path=/api/v1`) and `_mqtt._tcp.local.`
(TXT `site`, `tls=1|0`). Tests pass `interfaces=["127.0.0.1"]` to stay on loopback.
"""

from __future__ import annotations

import socket
from types import TracebackType
from typing import Self

from zeroconf import IPVersion, ServiceInfo, Zeroconf

IMPETUS_SERVICE = "_impetus._tcp.local."
MQTT_SERVICE = "_mqtt._tcp.local."


class Advertiser:
    def __init__(
        self,
        *,
        site: str,
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
        name = instance or f"impetus-{site}-{socket.gethostname().split('.')[0]}"
        packed = [socket.inet_aton(address) for address in addresses]
        server = f"{name}.local."
        self.infos = [
            ServiceInfo(
                IMPETUS_SERVICE,
                f"{name}.{IMPETUS_SERVICE}",
                addresses=packed,
                port=api_port,
                properties={"site": site, "path": "/api/v1"},
                server=server,
            ),
            ServiceInfo(
                MQTT_SERVICE,
                f"{name}.{MQTT_SERVICE}",
                addresses=packed,
                port=broker_port,
                properties={"site": site, "tls": "1" if tls else "0"},
                server=server,
            ),
        ]
        self._interfaces = interfaces
        self._zeroconf: Zeroconf | None = None

    def start(self) -> None:
        self._zeroconf = Zeroconf(interfaces=self._interfaces or "all", ip_version=IPVersion.V4Only)
        for info in self.infos:
            self._zeroconf.register_service(info)

    def stop(self) -> None:
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
