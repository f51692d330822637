"""The operator's REST API over real alerts: list and filters, detail with events and audit trail,
the lifecycle with its refusals, notes, the SOP checklist, silences, site, rules, workload."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from six_microphones import T0
from soc_events import SITE, crowd, piazza, shot

from impetus.aggregator.alert_rules import load_rules
from impetus.aggregator.api import create_app
from impetus.aggregator.correlator import Correlator
from impetus.aggregator.soc import Soc
from impetus.aggregator.store import ValidMessage
from impetus.protocol import topic_for


@pytest.fixture
def soc(store):
    opened = Soc.open(store.path, site=piazza())
    correlator = Correlator(opened.alerts, load_rules(), opened.site)
    events = [*shot(30.0, 20.0), crowd("cam-e", T0 + timedelta(seconds=5), "F", zone="east")]
    outcome = store.record([ValidMessage(e, topic_for(SITE, e.device_id, e.type), e.ts) for e in events])
    correlator.process(outcome.stored)
    yield opened
    opened.close()


@pytest.fixture
def keys(soc):
    return {
        role: soc.alerts.add_user(f"{role}-1", role)
        for role in ("operator", "technician", "privacy_officer", "admin")
    }


@pytest.fixture
def client(store, soc):
    with TestClient(create_app(store, soc=soc)) as api:
        yield api


def as_(key):
    return {"Authorization": f"Bearer {key}"}


def test_alerts_list_newest_first_with_filters_and_paging(client, keys):
    headers = as_(keys["operator"])
    body = client.get("/api/v1/alerts", headers=headers).json()
    assert body["total"] == 2
    assert [a["type"] for a in body["items"]] == ["crowd", "gunshot"]
    assert client.get("/api/v1/alerts", params={"type": "gunshot"}, headers=headers).json()["total"] == 1
    assert client.get("/api/v1/alerts", params={"severity": "extreme"}, headers=headers).json()["total"] == 0
    page = client.get("/api/v1/alerts", params={"limit": 1, "offset": 1}, headers=headers).json()
    assert [a["type"] for a in page["items"]] == ["gunshot"]
    refused = client.get("/api/v1/alerts", params={"status": "closed"}, headers=headers)
    assert refused.status_code == 422
    assert "status" in refused.text


def test_cursor_paging_walks_every_alert_once_and_ends_with_no_next(client, keys):
    headers = as_(keys["operator"])
    first = client.get("/api/v1/alerts", params={"limit": 1}, headers=headers).json()
    assert [a["type"] for a in first["items"]] == ["crowd"]
    assert first["next"] == first["items"][0]["id"]
    second = client.get(
        "/api/v1/alerts", params={"limit": 1, "before": first["next"]}, headers=headers
    ).json()
    assert [a["type"] for a in second["items"]] == ["gunshot"]
    assert second["total"] == 2
    last = client.get("/api/v1/alerts", params={"limit": 1, "before": second["next"]}, headers=headers).json()
    assert last["items"] == []
    assert last["next"] is None
    whole = client.get("/api/v1/alerts", params={"limit": 5}, headers=headers).json()
    assert len(whole["items"]) == 2
    assert whole["next"] is None


def test_alert_detail_carries_its_events_and_history(client, keys):
    [gunshot] = client.get(
        "/api/v1/alerts", params={"type": "gunshot"}, headers=as_(keys["privacy_officer"])
    ).json()["items"]
    detail = client.get(f"/api/v1/alerts/{gunshot['id']}", headers=as_(keys["privacy_officer"])).json()
    assert len(detail["events"]) == 6
    assert {e["device_id"] for e in detail["events"]} == set(gunshot["devices"])
    assert all(e["untrusted"] is False for e in detail["events"])
    assert detail["history"][0]["action"] == "raised"
    assert client.get("/api/v1/alerts/999", headers=as_(keys["operator"])).status_code == 404


def test_the_lifecycle_ack_assign_resolve_with_an_audit_trail_and_409_for_illegal_steps(client, keys):
    headers = as_(keys["operator"])
    alert_id = client.get("/api/v1/alerts", headers=headers).json()["items"][0]["id"]
    acked = client.post(f"/api/v1/alerts/{alert_id}/ack", headers=headers).json()
    assert (acked["status"], acked["acknowledged_by"]) == ("acknowledged", "operator-1")
    again = client.post(f"/api/v1/alerts/{alert_id}/ack", headers=headers)
    assert again.status_code == 409
    assert "already acknowledged" in again.json()["detail"]
    assigned = client.post(
        f"/api/v1/alerts/{alert_id}/assign", json={"assignee": "steward-3"}, headers=headers
    )
    assert (assigned.json()["status"], assigned.json()["assignee"]) == ("assigned", "steward-3")
    noted = client.post(f"/api/v1/alerts/{alert_id}/notes", json={"text": "crowd thinning"}, headers=headers)
    assert noted.json()["notes"][-1]["text"] == "crowd thinning"
    ticked = client.post(f"/api/v1/alerts/{alert_id}/sop/1", json={"done": True}, headers=headers).json()
    assert (ticked["sop"][0]["done"], ticked["sop"][0]["by"]) == (True, "operator-1")
    assert (
        client.post(f"/api/v1/alerts/{alert_id}/sop/99", json={"done": True}, headers=headers).status_code
        == 404
    )
    resolved = client.post(
        f"/api/v1/alerts/{alert_id}/resolve", json={"note": "all clear"}, headers=headers
    ).json()
    assert resolved["status"] == "resolved"
    late = client.post(f"/api/v1/alerts/{alert_id}/false-alarm", json={"note": "x"}, headers=headers)
    assert late.status_code == 409 and "already resolved" in late.json()["detail"]
    history = client.get(f"/api/v1/alerts/{alert_id}", headers=headers).json()["history"]
    assert [h["action"] for h in history] == [
        "raised",
        "acknowledged",
        "assigned",
        "note",
        "sop_done",
        "resolved",
    ]
    assert [(h["from"], h["to"]) for h in history if h["action"] == "resolved"] == [("assigned", "resolved")]


def test_roles_are_checked_on_every_route(client, keys):
    alert_id = client.get("/api/v1/alerts", headers=as_(keys["admin"])).json()["items"][0]["id"]
    assert client.get("/api/v1/alerts").status_code == 401
    assert client.get("/api/v1/alerts", headers={"Authorization": "Bearer nope"}).status_code == 401
    for role in ("technician", "privacy_officer"):
        refused = client.post(f"/api/v1/alerts/{alert_id}/ack", headers=as_(keys[role]))
        assert refused.status_code == 403, role
        assert role in refused.json()["detail"]
    assert client.get("/api/v1/dead-letters", headers=as_(keys["operator"])).status_code == 403
    assert client.get("/api/v1/dead-letters", headers=as_(keys["technician"])).status_code == 200
    assert client.get("/api/v1/whoami", headers=as_(keys["technician"])).json() == {
        "name": "technician-1",
        "role": "technician",
    }
    assert client.get("/healthz").status_code == 200


def test_silences_are_created_listed_and_expired_by_their_authors(client, keys):
    headers = as_(keys["technician"])
    ends = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    created = client.post(
        "/api/v1/silences", json={"zone": "east", "ends_at": ends, "comment": "maintenance"}, headers=headers
    )
    assert created.status_code == 201, created.text
    silence = created.json()
    assert (silence["author"], silence["zone"]) == ("technician-1", "east")
    assert [s["id"] for s in client.get("/api/v1/silences?active=true", headers=headers).json()["items"]] == [
        silence["id"]
    ]
    empty = client.post("/api/v1/silences", json={"ends_at": ends, "comment": "all"}, headers=headers)
    assert empty.status_code == 422 and "must match something" in empty.text
    assert (
        client.post(
            "/api/v1/silences",
            json={"zone": "east", "ends_at": ends, "comment": "x"},
            headers=as_(keys["privacy_officer"]),
        ).status_code
        == 403
    )
    assert client.delete(f"/api/v1/silences/{silence['id']}", headers=headers).status_code == 204
    assert client.get("/api/v1/silences", headers=headers).json()["items"] == []
    assert client.delete(f"/api/v1/silences/{silence['id']}", headers=headers).status_code == 404


def test_rules_site_and_operator_workload(client, keys):
    headers = as_(keys["operator"])
    rules = client.get("/api/v1/rules", headers=headers).json()
    assert rules["grouping"]["window_s"] == 120.0
    assert {e["name"] for e in rules["escalation"]} == {"gunshot_then_dispersal", "crowd_level_f_sustained"}
    site = client.get("/api/v1/site", headers=headers).json()
    assert site["site"] == SITE and len(site["devices"]) == 8
    first, second = [a["id"] for a in client.get("/api/v1/alerts", headers=headers).json()["items"]]
    client.post(f"/api/v1/alerts/{first}/ack", headers=headers)
    client.post(
        f"/api/v1/alerts/{second}/assign", json={"assignee": "operator-1"}, headers=as_(keys["admin"])
    )
    stats = client.get("/api/v1/operators/stats", headers=headers).json()
    by_name = {s["name"]: s for s in stats["operators"]}
    assert by_name["operator-1"]["open"] == 2
    assert by_name["operator-1"]["acknowledged"] == 1
    assert by_name["operator-1"]["tta_mean_s"] >= 0.0
    assert stats["unacknowledged"] == 0


def test_without_a_site_plan_the_site_route_says_how_to_give_one(store, keys):
    bare = Soc.open(store.path)
    with TestClient(create_app(store, soc=bare)) as api:
        missing = api.get("/api/v1/site", headers=as_(keys["operator"]))
    bare.close()
    assert missing.status_code == 404 and "--site-plan" in missing.json()["detail"]


def test_metrics_speak_prometheus_text(client, keys):
    response = client.get("/metrics", headers=as_(keys["technician"]))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    lines = response.text.splitlines()
    assert 'impetus_alerts{status="new"} 2' in lines
    assert "# TYPE impetus_events_ingested_total counter" in lines
    assert 'impetus_websocket_clients{feed="alerts"} 0' in lines
