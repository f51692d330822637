"""Events for the operator-side tests, built by the contract: a piazza with six microphones (the
localisation square), two cameras and zones, and shots placed where sound says they were."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from six_microphones import MICROPHONES, T0, six_microphone_site

from impetus.aggregator.localisation import SOURCE_HEIGHT_M
from impetus.protocol import ClockQuality, EnvelopeBase, PrivacyStamp, make_event
from impetus.protocol.site import DevicePlacement, GeoOrigin, Point, SiteDescription, Zone, speed_of_sound

SITE = "piazza"
PRIVACY = PrivacyStamp(policy_id="default", policy_version=1)
CLOCK = ClockQuality(source="ptp", offset_ms=0.0)


def piazza() -> SiteDescription:
    """The six-microphone square with a geographic origin, two cameras and two zones."""
    square = six_microphone_site(15.0)
    cameras = [
        DevicePlacement(
            device_id="cam-w", sensors=["camera"], position=Point(x_m=10.0, y_m=30.0), zone="west"
        ),
        DevicePlacement(
            device_id="cam-e", sensors=["camera"], position=Point(x_m=90.0, y_m=30.0), zone="east"
        ),
    ]
    zones = [
        Zone(name="west", polygon=[Point(x_m=x, y_m=y) for x, y in ((0, 0), (50, 0), (50, 60), (0, 60))]),
        Zone(name="east", polygon=[Point(x_m=x, y_m=y) for x, y in ((50, 0), (100, 0), (100, 60), (50, 60))]),
    ]
    return square.model_copy(
        update={
            "origin": GeoOrigin(lat=45.4642, lon=9.19),
            "devices": [*square.devices, *cameras],
            "zones": zones,
        }
    )


def event(
    kind: str,
    device: str,
    at: datetime,
    payload: dict[str, Any],
    *,
    zone: str | None = None,
    seq: int = 0,
    confidence: float = 0.9,
    test: bool = False,
) -> EnvelopeBase:
    return make_event(
        kind,
        device_id=device,
        site=SITE,
        seq=seq,
        payload=payload,
        ts=at,
        clock=CLOCK,
        privacy=PRIVACY,
        zone=zone,
        confidence=confidence,
        test=test,
    )


def shot(
    x_m: float, y_m: float, fired: datetime = T0, devices: tuple[str, ...] = tuple(MICROPHONES)
) -> list[EnvelopeBase]:
    """Each microphone's report of one shot fired at (x, y), with the onset sound gives it."""
    c = speed_of_sound(15.0)
    reports = []
    for n, device in enumerate(devices):
        mx, my = MICROPHONES[device]
        distance = math.sqrt((mx - x_m) ** 2 + (my - y_m) ** 2 + (4.0 - SOURCE_HEIGHT_M) ** 2)
        onset = fired + timedelta(seconds=distance / c)
        payload = {"onset_ts": onset.isoformat(), "peak_dbfs": -6.0, "duration_ms": 5.0, "score": 0.9}
        zone = "west" if mx < 50 else "east"
        reports.append(event("gunshot", device, onset, payload, zone=zone, seq=n))
    return reports


def crowd(
    device: str, at: datetime, level: str, *, zone: str, dispersal: bool = False, seq: int = 0
) -> EnvelopeBase:
    payload: dict[str, Any] = {"count": 300, "area_m2": 100.0, "density": 3.0, "level_of_service": level}
    if dispersal:
        payload["motion"] = {"speed_mps": 3.5, "direction_deg": 90.0, "coherence": 0.2, "dispersal": True}
    return event("crowd", device, at, payload, zone=zone, seq=seq)
