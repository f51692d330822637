"""An alert as a Common Alerting Protocol 1.2 message (OASIS), valid against the shipped `cap12.xsd`.

Mapping: `status` Test for technicians' test alerts, Actual otherwise; `msgType` Alert while the
alert is new, Update once an operator acted on it, Cancel for a false alarm (both referencing the
first message); `scope` Restricted (the SOC and the emergency services it forwards to); category
Security, or Safety for crowds and Infra for device outages; urgency, severity and certainty from
the alert (certainty drops to Possible when only tampered devices speak for it); the area is a
circle around the located position (radius: its 95 % uncertainty, at least `MIN_RADIUS_M`) when
the site plan has a geographic origin, else the site and zone named in words.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
XSD_PATH = Path(__file__).with_name("cap12.xsd")
MIN_RADIUS_M = 25.0
CATEGORY = {"crowd": "Safety", "device_offline": "Infra"}
SEVERITY = {"minor": "Minor", "moderate": "Moderate", "severe": "Severe", "extreme": "Extreme"}


def cap_time(value: str | datetime) -> str:
    """CAP's dateTime: seconds, an explicit offset, and UTC written as -00:00 (no "Z")."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else value
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") + "-00:00"


def _first_identifier(alert: dict[str, Any]) -> str:
    return f"impetus.{alert['site']}.alert{alert['id']}"


def alert_to_cap(alert: dict[str, Any], *, sender: str, site_name: str | None = None) -> bytes:
    """The CAP document of `alert` (the API's alert JSON) as UTF-8 XML bytes."""
    ET.register_namespace("", CAP_NS)
    root = ET.Element(f"{{{CAP_NS}}}alert")

    def add(parent: ET.Element, name: str, text: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{CAP_NS}}}{name}")
        element.text = text
        return element

    first = _first_identifier(alert)
    if alert["status"] == "new":
        identifier, kind = first, "Alert"
    else:
        stamp = cap_time(alert["updated_at"]).replace("-", "").replace(":", "")[:15]
        identifier = f"{first}.{stamp}"
        kind = "Cancel" if alert["status"] == "false_alarm" else "Update"
    add(root, "identifier", identifier)
    add(root, "sender", sender)
    add(root, "sent", cap_time(datetime.now(UTC)))
    add(root, "status", "Test" if alert["test"] else "Actual")
    add(root, "msgType", kind)
    add(root, "source", "impetus aggregator")
    add(root, "scope", "Restricted")
    add(root, "restriction", "SOC operators and the emergency services they forward to")
    if alert["status"] in ("resolved", "false_alarm"):
        add(root, "note", f"{alert['status'].replace('_', ' ')} by {alert.get('closed_by') or 'operator'}")
    if kind != "Alert":
        add(root, "references", f"{sender},{first},{cap_time(alert['created_at'])}")

    info = ET.SubElement(root, f"{{{CAP_NS}}}info")
    add(info, "language", "en-GB")
    add(info, "category", CATEGORY.get(alert["type"], "Security"))
    add(info, "event", alert["title"])
    add(info, "responseType", "Monitor" if alert["status"] in ("resolved", "false_alarm") else "Execute")
    add(info, "urgency", alert["urgency"])
    add(info, "severity", SEVERITY[alert["severity"]])
    add(info, "certainty", "Possible" if alert["untrusted"] else alert["certainty"])
    code = ET.SubElement(info, f"{{{CAP_NS}}}eventCode")
    add(code, "valueName", "impetus")
    add(code, "value", alert["type"])
    add(info, "onset", cap_time(alert["first_seen"]))
    add(info, "senderName", "impetus SOC")
    add(info, "headline", alert["title"][:160])
    devices = ", ".join(alert["devices"]) or "none"
    description = (
        f"{alert['event_count']} event(s) from {len(alert['devices'])} device(s) ({devices}) between "
        f"{alert['first_seen']} and {alert['last_seen']}; confidence {alert['confidence']:.2f}."
    )
    if alert["untrusted"]:
        description += " Only devices that reported tampering speak for this alert."
    add(info, "description", description)
    steps = [s["text"] for s in alert.get("sop") or []]
    if steps:
        add(info, "instruction", " ".join(f"{n}. {text}." for n, text in enumerate(steps, start=1)))
    for name, value in (
        ("alertKey", alert["key"]),
        ("confidence", f"{alert['confidence']:.3f}"),
        ("corroboratingDevices", str(len(alert["devices"]))),
    ):
        parameter = ET.SubElement(info, f"{{{CAP_NS}}}parameter")
        add(parameter, "valueName", name)
        add(parameter, "value", value)
    area = ET.SubElement(info, f"{{{CAP_NS}}}area")
    place = site_name or alert["site"]
    add(area, "areaDesc", f"{place}, zone {alert['zone']}" if alert["zone"] else place)
    location = alert.get("location")
    if location and location.get("lat") is not None and location.get("lon") is not None:
        radius_km = max(float(location["radius_95_m"]), MIN_RADIUS_M) / 1000.0
        add(area, "circle", f"{location['lat']:.6f},{location['lon']:.6f} {radius_km:.3f}")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
