"""Where the broker is: one URL form for config files, the CLI and the publisher."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit


class BrokerAddressError(ValueError):
    """A broker URL that cannot be used."""


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool = False

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        """`mqtt://host:port` (default port 1883) or `mqtts://host:port` (TLS, default 8883)."""
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise BrokerAddressError(f"broker {url!r}: expected mqtt://HOST:PORT or mqtts://HOST:PORT")
        try:
            port = parts.port
        except ValueError:
            raise BrokerAddressError(f"broker {url!r}: the port must be a number 1-65535") from None
        tls = parts.scheme == "mqtts"
        return cls(host=parts.hostname, port=port or (8883 if tls else 1883), tls=tls)

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"
