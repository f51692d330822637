"""The test square both localisation test files use: 100 x 60 m, a microphone at each corner and
one in the middle of each long side."""

from __future__ import annotations

from datetime import UTC, datetime

from impetus.protocol.site import DevicePlacement, Point, SiteDescription

MICROPHONES = {
    "mic-sw": (2.0, 3.0),
    "mic-s": (50.0, 1.0),
    "mic-se": (98.0, 2.0),
    "mic-ne": (97.0, 58.0),
    "mic-n": (49.0, 59.0),
    "mic-nw": (3.0, 57.0),
}
T0 = datetime(2026, 11, 22, 21, 14, 3, 250000, tzinfo=UTC)


def six_microphone_site(temperature_c: float) -> SiteDescription:
    return SiteDescription(
        site="piazza",
        name="Piazza test square",
        width_m=100.0,
        depth_m=60.0,
        temperature_c=temperature_c,
        devices=[
            DevicePlacement(
                device_id=name, sensors=["microphone"], position=Point(x_m=x, y_m=y), height_m=4.0
            )
            for name, (x, y) in MICROPHONES.items()
        ],
    )
