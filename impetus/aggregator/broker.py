"""Broker modes: an embedded MQTT broker for one-machine use, or any external broker by URL.

The embedded broker (amqtt, MQTT 3.1.1) has no authentication, so it only ever listens on
loopback; devices on a network go through mosquitto or an MQTT cluster, named by a URL.

    broker = EmbeddedBroker()
    broker.start()
    print(broker.url)  # mqtt://127.0.0.1:40213
    broker.stop()
"""

from __future__ import annotations

import asyncio
import ipaddress
import threading
from concurrent.futures import Future
from urllib.parse import urlsplit

from amqtt.broker import Broker

DEFAULT_MQTT_PORT = 1883


class BrokerUrlError(ValueError):
    """A broker URL that cannot be used; the message says what was expected."""


class BrokerStartError(RuntimeError):
    """The embedded broker could not start (for example, its port is taken)."""


def parse_broker_url(url: str) -> tuple[str, int]:
    """`mqtt://host:port` -> (host, port); the port defaults to 1883."""
    expected = "expected mqtt://HOST:PORT, for example mqtt://127.0.0.1:1883"
    parts = urlsplit(url)
    if parts.scheme == "mqtts":
        raise BrokerUrlError(f"broker URL {url!r}: TLS (mqtts://) is not supported yet; {expected}")
    if parts.scheme != "mqtt":
        raise BrokerUrlError(f"broker URL {url!r}: unknown scheme {parts.scheme!r}; {expected}")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise BrokerUrlError(f"broker URL {url!r} carries a path, query or credentials; {expected}")
    try:
        port = parts.port
    except ValueError:
        raise BrokerUrlError(f"broker URL {url!r}: the port is not a number in 1-65535; {expected}") from None
    if not parts.hostname:
        raise BrokerUrlError(f"broker URL {url!r} names no host; {expected}")
    if port == 0:
        raise BrokerUrlError(f"broker URL {url!r}: port 0 cannot be connected to; {expected}")
    return parts.hostname, port or DEFAULT_MQTT_PORT


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class EmbeddedBroker:
    """amqtt on its own asyncio loop in a daemon thread, listening on loopback only.

    Sessions of anonymous clients end when they disconnect (amqtt's rule), so the queueing of
    QoS 1 messages for an absent aggregator needs an external broker; in-process the broker and
    the aggregator live and die together anyway.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        if not _is_loopback(host):
            raise BrokerUrlError(
                f"the embedded broker has no authentication and listens on loopback only, not {host!r}; "
                "for devices on a network run mosquitto and pass --broker mqtt://HOST:PORT"
            )
        if not 0 <= port <= 65535:
            raise BrokerUrlError(f"embedded broker port {port}: expected 0 (any free port) or 1-65535")
        self.host = host
        self._requested_port = port
        self.port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._broker: Broker | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("the embedded broker is not started")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"mqtt://{host}:{self.port}"

    def _config(self) -> dict[str, object]:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return {
            "listeners": {"default": {"type": "tcp", "bind": f"{host}:{self._requested_port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }

    def start(self, timeout: float = 10.0) -> None:
        """Return once the broker accepts connections on `url`."""
        if self._thread is not None:
            raise RuntimeError("the embedded broker is already started")
        loop = asyncio.new_event_loop()
        outcome: Future[Broker] = Future()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                broker = Broker(self._config(), loop=loop)
                loop.run_until_complete(broker.start())
            except Exception as error:  # handed to the thread that called start()
                outcome.set_exception(error)
                return
            outcome.set_result(broker)
            loop.run_forever()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="embedded-broker", daemon=True)
        self._thread.start()
        try:
            self._broker = outcome.result(timeout)
        except Exception as error:
            self._halt_loop()
            raise BrokerStartError(
                f"embedded broker could not listen on {self.host}:{self._requested_port}: {error}"
            ) from error
        self.port = self._listening_port()

    def _listening_port(self) -> int:
        assert self._broker is not None
        server = self._broker._servers["default"].instance  # amqtt keeps its listeners private
        return int(server.sockets[0].getsockname()[1])

    def stop(self, timeout: float = 10.0) -> None:
        if self._loop is None:
            return
        if self._broker is not None:
            asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop).result(timeout)
            self._broker = None
        self._halt_loop(timeout)
        self.port = None

    def _halt_loop(self, timeout: float = 10.0) -> None:
        assert self._loop is not None and self._thread is not None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self._loop.close()
        self._loop = None
        self._thread = None
