"""The assembled aggregator as an operator sees it: events published on MQTT become alerts pushed
on the WebSocket, a silent device raises device-offline within its timeout, webhooks retry."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import httpx
import pytest
import xmlschema
from six_microphones import T0
from soc_events import SITE, crowd, event, piazza, shot
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as websocket_connect

from impetus.aggregator.alert_rules import Watchdog, load_rules
from impetus.aggregator.cap.export import XSD_PATH
from impetus.aggregator.service import AggregatorService
from impetus.aggregator.soc import SocConfig
from impetus.aggregator.webhooks import Webhook
from impetus.protocol import topic_for

KEY = "imp_operator-test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}


class Receiver(BaseHTTPRequestHandler):
    """A webhook endpoint that answers 503 to the first `fail_first` POSTs, then 204."""

    bodies: ClassVar[list[tuple[str, bytes]]] = []
    fail_first: ClassVar[int] = 0

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if type(self).fail_first > 0:
            type(self).fail_first -= 1
            self.send_response(503)
        else:
            type(self).bodies.append((self.headers["Content-Type"], body))
            self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver():
    Receiver.bodies, Receiver.fail_first = [], 2
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()


@pytest.fixture
def service(tmp_path, receiver):
    rules = load_rules().model_copy(update={"watchdog": Watchdog(offline_after_s=1.0, check_every_s=0.2)})
    operator = SocConfig(
        rules=rules,
        site=piazza(),
        admin_key=KEY,
        webhooks=[Webhook(receiver, "json"), Webhook(receiver, "cap")],
    )
    with AggregatorService(None, tmp_path / "aggregator.db", "127.0.0.1:0", operator=operator) as running:
        running.soc.webhooks._first_backoff_s = 0.05  # the retries themselves are what is tested
        yield running


def test_a_shot_published_on_mqtt_reaches_the_websocket_as_one_corroborated_alert(service, device_client):
    url = service.api_url.replace("http://", "ws://") + f"/api/v1/alerts/live?token={KEY}"
    with websocket_connect(url) as live:
        client = device_client(service.broker_url, "mics")
        for report in shot(40.0, 30.0):
            client.publish(
                topic_for(SITE, report.device_id, "gunshot"), report.to_bytes(), qos=1
            ).wait_for_publish(5)
        deadline = time.monotonic() + 10
        alert = None
        while time.monotonic() < deadline:
            message = json.loads(live.recv(timeout=10))
            if message["kind"] == "alert" and message["alert"]["corroborating_devices"] == 6:
                alert = message["alert"]
                break
    assert alert is not None, "the alert with all six microphones was pushed"
    assert alert["location"] is not None
    listed = httpx.get(f"{service.api_url}/api/v1/alerts", headers=AUTH).json()
    assert listed["total"] == 1


def test_the_alert_websocket_refuses_a_missing_key(service):
    url = service.api_url.replace("http://", "ws://") + "/api/v1/alerts/live"
    with pytest.raises(InvalidStatus, match="403"):
        websocket_connect(url)


def test_a_silent_device_raises_device_offline_and_it_resolves_when_the_device_is_back(
    service, device_client, wait_until
):
    client = device_client(service.broker_url, "cam-w")
    health = event("health", "cam-w", T0, {"uptime_s": 5.0, "outbox_backlog": 0})
    client.publish(topic_for(SITE, "cam-w", "health"), health.to_bytes(), qos=1).wait_for_publish(5)
    started = time.monotonic()

    def offline_alerts():
        items = httpx.get(f"{service.api_url}/api/v1/alerts?type=device_offline", headers=AUTH).json()[
            "items"
        ]
        return items

    url = service.api_url.replace("http://", "ws://") + f"/api/v1/alerts/live?token={KEY}"
    with websocket_connect(url) as live:
        wait_until(lambda: len(offline_alerts()) == 1, timeout=10, what="a device-offline alert")
        assert time.monotonic() - started < 1.0 + 0.2 + 2.0  # timeout, one check period, and slack
        # The device change and the alert come in either order, maybe after an earlier change.
        silent_pushed = False
        while not silent_pushed:
            message = json.loads(live.recv(timeout=5))
            device = message.get("device") or {}
            silent_pushed = (device.get("device_id"), device.get("silent")) == ("cam-w", True)
    [alert] = offline_alerts()
    assert (alert["devices"], alert["zone"], alert["status"]) == (["cam-w"], "west", "new")

    again = event("health", "cam-w", T0, {"uptime_s": 9.0, "outbox_backlog": 0}, seq=1)
    client.publish(topic_for(SITE, "cam-w", "health"), again.to_bytes(), qos=1).wait_for_publish(5)
    wait_until(lambda: offline_alerts()[0]["status"] == "resolved", timeout=10, what="resolved by itself")


def test_webhooks_receive_json_and_valid_cap_after_retrying(service, device_client, wait_until):
    client = device_client(service.broker_url, "cam-e")
    high = crowd("cam-e", T0, "F", zone="east")
    client.publish(topic_for(SITE, "cam-e", "crowd"), high.to_bytes(), qos=1).wait_for_publish(5)
    wait_until(lambda: len(Receiver.bodies) >= 2, timeout=10, what="both webhooks delivered")
    kinds = {content_type: body for content_type, body in Receiver.bodies}
    assert json.loads(kinds["application/json"])["alert"]["type"] == "crowd"
    xmlschema.XMLSchema(XSD_PATH).validate(kinds["application/cap+xml"].decode("utf-8"))
    assert service.soc.webhooks.counters["retries"] == 2
