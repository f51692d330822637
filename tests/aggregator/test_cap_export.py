"""Every CAP document the system emits validates against the shipped OASIS CAP 1.2 schema."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
import xmlschema
from fastapi.testclient import TestClient
from six_microphones import T0
from soc_events import SITE, crowd, event, piazza, shot

from impetus.aggregator import alert_lifecycle as lifecycle
from impetus.aggregator.alert_rules import load_rules
from impetus.aggregator.api import create_app
from impetus.aggregator.cap.export import CAP_NS, XSD_PATH, alert_to_cap
from impetus.aggregator.correlator import Correlator
from impetus.aggregator.soc import Soc
from impetus.aggregator.store import ValidMessage
from impetus.protocol import topic_for

NS = {"cap": CAP_NS}


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(XSD_PATH)


@pytest.fixture
def soc(store):
    opened = Soc.open(store.path, site=piazza())
    bag = {
        "class_name": "suitcase",
        "box": {"x": 0.1, "y": 0.1, "w": 0.1, "h": 0.1},
        "score": 0.7,
        "track_id": 1,
        "dwell_s": 200.0,
        "unattended_s": 100.0,
    }
    events = [
        *shot(60.0, 30.0),
        crowd("cam-e", T0 + timedelta(seconds=10), "F", zone="east", dispersal=True),
        event("tamper", "cam-w", T0, {"kind": "covered", "score": 0.9}, zone="west"),
        event("left_object", "cam-w", T0 + timedelta(seconds=5), bag, zone="west", seq=1, test=True),
    ]
    outcome = store.record([ValidMessage(e, topic_for(SITE, e.device_id, e.type), e.ts) for e in events])
    Correlator(opened.alerts, load_rules(), opened.site).process(outcome.stored)
    yield opened
    opened.close()


def test_the_shipped_schema_is_the_oasis_one():
    assert XSD_PATH.is_file()
    assert (XSD_PATH.parent / "LICENSE-cap12.txt").is_file()


def test_every_alert_in_every_state_exports_valid_cap(soc, schema):
    alerts = {a["type"]: a for a in soc.alerts.page()[0]}
    assert set(alerts) == {"gunshot", "crowd", "tamper", "left_object"}
    documents = [alert_to_cap(a, sender=soc.sender) for a in alerts.values()]
    gunshot_id = alerts["gunshot"]["id"]
    lifecycle.acknowledge(soc.alerts, gunshot_id, "op")
    documents.append(alert_to_cap(soc.alerts.alert(gunshot_id), sender=soc.sender))
    lifecycle.close(soc.alerts, alerts["crowd"]["id"], "op", "false_alarm", "a flash mob")
    documents.append(alert_to_cap(soc.alerts.alert(alerts["crowd"]["id"]), sender=soc.sender))
    for document in documents:
        schema.validate(document.decode("utf-8"))


def test_the_gunshot_maps_to_an_extreme_security_alert_with_a_circle_around_the_shot(soc, schema):
    gunshot = next(a for a in soc.alerts.page()[0] if a["type"] == "gunshot")
    root = ET.fromstring(alert_to_cap(gunshot, sender=soc.sender, site_name="Piazza"))
    assert root.findtext("cap:status", namespaces=NS) == "Actual"
    assert root.findtext("cap:msgType", namespaces=NS) == "Alert"
    assert root.findtext("cap:scope", namespaces=NS) == "Restricted"
    info = root.find("cap:info", NS)
    assert info.findtext("cap:category", namespaces=NS) == "Security"
    assert info.findtext("cap:severity", namespaces=NS) == "Extreme"  # the crowd dispersed 10 s later
    assert info.findtext("cap:urgency", namespaces=NS) == "Immediate"
    lat_lon, radius_km = info.findtext("cap:area/cap:circle", namespaces=NS).split(" ")
    lat, lon = (float(v) for v in lat_lon.split(","))
    assert lat == pytest.approx(gunshot["location"]["lat"], abs=1e-6)
    assert lon == pytest.approx(gunshot["location"]["lon"], abs=1e-6)
    assert float(radius_km) >= 0.025


def test_test_alerts_and_false_alarms_say_so(soc):
    left = next(a for a in soc.alerts.page()[0] if a["type"] == "left_object")
    root = ET.fromstring(alert_to_cap(left, sender=soc.sender))
    assert root.findtext("cap:status", namespaces=NS) == "Test"
    lifecycle.close(soc.alerts, left["id"], "op", "false_alarm", "owner came back")
    cancel = ET.fromstring(alert_to_cap(soc.alerts.alert(left["id"]), sender=soc.sender))
    assert cancel.findtext("cap:msgType", namespaces=NS) == "Cancel"
    assert f"impetus.{SITE}.alert{left['id']}" in cancel.findtext("cap:references", namespaces=NS)


def test_the_cap_route_answers_xml_that_validates(store, soc, schema):
    key = soc.alerts.add_user("op", "operator")
    with TestClient(create_app(store, soc=soc)) as api:
        gunshot = api.get("/api/v1/alerts?type=gunshot", headers={"Authorization": f"Bearer {key}"}).json()
        response = api.get(
            f"/api/v1/alerts/{gunshot['items'][0]['id']}/cap", headers={"Authorization": f"Bearer {key}"}
        )
        assert api.get("/api/v1/alerts/1/cap").status_code == 401
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    schema.validate(response.text)
