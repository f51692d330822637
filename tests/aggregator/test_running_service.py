"""The assembled aggregator (broker, ingest, store, API on uvicorn) as a SOC client sees it."""

from __future__ import annotations

import json

import httpx
import pytest
from websockets.sync.client import connect as websocket_connect

from impetus.aggregator.service import AggregatorService
from impetus.aggregator.soc import SocConfig
from impetus.protocol import topic_for

OFFLINE = {"state": "offline", "agent_version": "0.1.0"}
ADMIN_KEY = "imp_test-admin-key"
AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}


@pytest.fixture(params=["embedded", "mosquitto"])
def service(request, tmp_path):
    broker_url = None if request.param == "embedded" else request.getfixturevalue("mosquitto").url
    operator = SocConfig(admin_key=ADMIN_KEY)
    with AggregatorService(
        broker_url, tmp_path / "aggregator.db", "127.0.0.1:0", operator=operator
    ) as running:
        yield running


def device_states(service) -> dict[str, str]:
    items = httpx.get(f"{service.api_url}/api/v1/devices", headers=AUTH).json()["items"]
    return {item["device_id"]: item["state"] for item in items}


def test_health_reports_the_broker_and_the_counters(service):
    body = httpx.get(f"{service.api_url}/healthz").json()
    assert body["ok"] is True
    assert body["broker"] == {"url": service.broker_url, "connected": True}
    assert body["counters"]["received"] == 0


def test_a_device_goes_online_then_offline_by_its_status(service, new_event, device_client, wait_until):
    device = device_client(service.broker_url, "cam-01")
    status_topic = topic_for("square", "cam-01", "status")
    device.publish(status_topic, new_event("status", seq=0).to_bytes(), qos=1, retain=True)
    wait_until(lambda: device_states(service) == {"cam-01": "online"}, what="cam-01 online")
    seen_online = httpx.get(f"{service.api_url}/api/v1/devices", headers=AUTH).json()["items"][0]["last_seen"]

    device.publish(status_topic, new_event("status", seq=1, payload=OFFLINE).to_bytes(), qos=1, retain=True)
    wait_until(lambda: device_states(service) == {"cam-01": "offline"}, what="cam-01 offline")
    [row] = httpx.get(f"{service.api_url}/api/v1/devices", headers=AUTH).json()["items"]
    assert row["last_seen"] == seen_online
    assert row["last_status"]["payload"]["state"] == "offline"


def test_a_device_that_vanishes_goes_offline_by_its_last_will(service, new_event, device_client, wait_until):
    status_topic = topic_for("square", "cam-07", "status")
    will = new_event("status", device_id="cam-07", seq=0, payload=OFFLINE).to_bytes()
    device = device_client(service.broker_url, "cam-07", topic=status_topic, payload=will, qos=1, retain=True)
    device.publish(
        status_topic, new_event("status", device_id="cam-07", seq=1).to_bytes(), qos=1, retain=True
    )
    wait_until(lambda: device_states(service) == {"cam-07": "online"}, what="cam-07 online")

    device.loop_stop()
    device.socket().close()  # gone without DISCONNECT: the broker sends the will
    wait_until(lambda: device_states(service) == {"cam-07": "offline"}, what="cam-07 offline by its will")


def test_health_messages_show_as_the_device_last_health(service, new_event, device_client, wait_until):
    device = device_client(service.broker_url, "mic-02")
    health = new_event("health", device_id="mic-02", seq=4, payload={"uptime_s": 12.5, "outbox_backlog": 3})
    device.publish(topic_for("square", "mic-02", "health"), health.to_bytes(), qos=1)

    def last_health():
        items = httpx.get(f"{service.api_url}/api/v1/devices", headers=AUTH).json()["items"]
        return items[0]["last_health"] if items else None

    wait_until(lambda: last_health() is not None, what="mic-02 health")
    assert last_health()["payload"] == {
        "uptime_s": 12.5,
        "outbox_backlog": 3,
        "outbox_dropped": 0,
        "detectors": {},
    }


def test_the_live_feed_pushes_each_new_event_once(service, new_event, device_client):
    device = device_client(service.broker_url, "mic-01")
    first, second = (
        new_event("gunshot", device_id="mic-01", seq=1),
        new_event("gunshot", device_id="mic-01", seq=2),
    )
    topic = topic_for("square", "mic-01", "gunshot")
    with websocket_connect(
        service.api_url.replace("http://", "ws://") + f"/api/v1/live?token={ADMIN_KEY}"
    ) as live:
        for event in (first, first, second):
            device.publish(topic, event.to_bytes(), qos=1).wait_for_publish(5)
        pushed = [json.loads(live.recv(timeout=10)) for _ in range(2)]
    assert [item["event_id"] for item in pushed] == [first.event_id, second.event_id]
    assert pushed[0]["payload"] == first.wire_dict()["payload"]
    assert pushed[0]["received_at"].endswith("Z")


def test_every_route_but_health_wants_a_key(service):
    assert httpx.get(f"{service.api_url}/healthz").status_code == 200
    for path in ("/api/v1/devices", "/api/v1/events", "/api/v1/dead-letters", "/api/v1/alerts", "/metrics"):
        assert httpx.get(f"{service.api_url}{path}").status_code == 401, path
        wrong = {"Authorization": "Bearer imp_not-a-key"}
        assert httpx.get(f"{service.api_url}{path}", headers=wrong).status_code == 401, path
