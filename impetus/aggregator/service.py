"""The whole aggregator in one object: broker (embedded unless one is named), store, ingest, API.

    with AggregatorService(None, "var/aggregator.db", "127.0.0.1:0") as service:
        print(service.broker_url, service.api_url)

Used by `impetus aggregator serve` and, in-process, by the demo.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Self

import uvicorn

from impetus.aggregator.advertise import Advertiser, Advertising, advertiser_for
from impetus.aggregator.api import create_app
from impetus.aggregator.broker import EmbeddedBroker
from impetus.aggregator.ingest import DEFAULT_CLIENT_ID, Ingest
from impetus.aggregator.link_security import LinkSecurity, SecuredLink
from impetus.aggregator.snapshots import SnapshotDesk
from impetus.aggregator.soc import Soc, SocConfig, ensure_admin
from impetus.aggregator.store import EventStore

log = logging.getLogger(__name__)

DEFAULT_DB_PATH = Path("var/aggregator.db")
DEFAULT_LISTEN = "127.0.0.1:8080"


class ServiceError(RuntimeError):
    """The aggregator could not start; the message says which part and why."""


def parse_listen(text: str) -> tuple[str, int]:
    """`HOST:PORT` -> (host, port); port 0 picks a free one."""
    host, sep, port_text = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port_text.isdigit() or int(port_text) > 65535:
        raise ValueError(f"listen address {text!r}: expected HOST:PORT, for example 127.0.0.1:8080")
    return host, int(port_text)


class AggregatorService:
    """Starts its parts in dependency order and stops them in reverse.

    Without `broker_url` an embedded broker listens on 127.0.0.1:`embedded_port` (0: any free port).
    """

    def __init__(
        self,
        broker_url: str | None,
        db_path: Path | str = DEFAULT_DB_PATH,
        listen: str = DEFAULT_LISTEN,
        *,
        embedded_port: int = 0,
        client_id: str = DEFAULT_CLIENT_ID,
        security: LinkSecurity | None = None,
        operator: SocConfig | None = None,
        advertise: Advertising | None = None,
    ) -> None:
        self._operator = operator or SocConfig()
        self.soc: Soc | None = None
        self.bootstrap_admin_key: str | None = None
        self._security = security
        self.link: SecuredLink | None = None
        self._external_broker_url = broker_url
        self._embedded_port = embedded_port
        self._db_path = Path(db_path)
        self._listen = parse_listen(listen)
        self._client_id = client_id
        self._broker: EmbeddedBroker | None = None
        self._store: EventStore | None = None
        self._ingest: Ingest | None = None
        self._snapshots: SnapshotDesk | None = None
        self._server: uvicorn.Server | None = None
        self._server_thread: threading.Thread | None = None
        self._api_port: int | None = None
        self._advertising = advertise
        self.advertiser: Advertiser | None = None

    @property
    def broker_url(self) -> str:
        if self._external_broker_url is not None:
            return self._external_broker_url
        if self._broker is None:
            raise RuntimeError("the aggregator is not started")
        return self._broker.url

    @property
    def api_url(self) -> str:
        if self._api_port is None:
            raise RuntimeError("the aggregator is not started")
        host = self._listen[0]
        return f"http://{f'[{host}]' if ':' in host else host}:{self._api_port}"

    @property
    def store(self) -> EventStore:
        if self._store is None:
            raise RuntimeError("the aggregator is not started")
        return self._store

    @property
    def ingest(self) -> Ingest:
        if self._ingest is None:
            raise RuntimeError("the aggregator is not started")
        return self._ingest

    @property
    def snapshots(self) -> SnapshotDesk:
        if self._snapshots is None:
            raise RuntimeError("the aggregator is not started")
        return self._snapshots

    def start(self, timeout: float = 15.0) -> None:
        try:
            self._store = EventStore(self._db_path)
            if self._external_broker_url is None:
                self._broker = EmbeddedBroker(port=self._embedded_port)
                self._broker.start(timeout)
            self.link = SecuredLink(self._security) if self._security is not None else None
            self._ingest = Ingest(
                self._store,
                self.broker_url,
                client_id=self._client_id,
                sender_check=self.link.guard if self.link else None,
                username=self.link.username if self.link else None,
                password=self.link.password if self.link else None,
            )
            self._ingest.start(timeout)
            if self.link is not None:
                self.link.attach(self._store, self._ingest)
            self._snapshots = SnapshotDesk(
                self._db_path,
                self.broker_url,
                store=self._store,
                username=self.link.username if self.link else None,
                password=self.link.password if self.link else None,
                client_id=f"{self._client_id}-snapshots",
            )
            self._snapshots.start(timeout)
            self.soc = Soc.open(self._db_path, rules=self._operator.rules, site=self._operator.site)
            self.bootstrap_admin_key = ensure_admin(self.soc.alerts, self._operator.admin_key)
            self.soc.start(self._store, self._ingest, self._operator.webhooks, self._operator.sop_dir)
            if self.link is not None and self.soc.correlator is not None:
                self.link.raise_alerts(self.soc.correlator)
            self._start_api(timeout)
            if self._advertising is not None:
                self._advertise(self._advertising)
        except Exception:
            self.stop()
            raise

    def _start_api(self, timeout: float) -> None:
        host, port = self._listen
        config = uvicorn.Config(
            create_app(
                self.store,
                self.ingest,
                routers=(*(self.link.routers() if self.link else ()), self.snapshots.router()),
                soc=self.soc,
            ),
            host=host,
            port=port,
            log_level="warning",
            lifespan="on",
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name="api", daemon=True)
        self._server, self._server_thread = server, thread
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise ServiceError(f"the API could not listen on {host}:{port} (see the log above)")
            time.sleep(0.02)
        self._api_port = int(server.servers[0].sockets[0].getsockname()[1])

    def _advertise(self, advertising: Advertising) -> None:
        """Announce the API and the broker devices are handed, so provisioning needs no URL."""
        device_broker = self.link.security.device_broker_url if self.link is not None else None
        assert self._api_port is not None
        self.advertiser = advertiser_for(
            advertising, self._listen[0], self._api_port, device_broker or self.broker_url
        )
        self.advertiser.start()

    def stop(self) -> None:
        if self.advertiser is not None:
            self.advertiser.stop()
            self.advertiser = None
        if self._server is not None and self._server_thread is not None:
            self._server.should_exit = True
            self._server_thread.join(10)
        if self._snapshots is not None:
            self._snapshots.stop()
        if self._ingest is not None:
            self._ingest.stop()
        if self.soc is not None:
            self.soc.close()
            self.soc = None
        if self._broker is not None:
            self._broker.stop()
        if self._store is not None:
            self._store.close()
        if self.link is not None:
            self.link.close()
            self.link = None
        self._server = None
        self._server_thread = None
        self._ingest = None
        self._snapshots = None
        self._broker = None
        self._store = None
        self._api_port = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()
