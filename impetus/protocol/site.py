"""The site plan both sides agree on: where devices stand, which way they look, where zones are.

Coordinates are metres in a local site frame: x to the east, y to the north, origin at the
south-west corner of the plan. Headings are compass degrees (0 = north, 90 = east).
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from impetus.protocol.payloads import Name

Sensor = Literal["camera", "microphone"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Point(Strict):
    x_m: float
    y_m: float


class Zone(Strict):
    name: Name
    kind: Literal["pedestrian", "gathering", "road", "restricted"] = "pedestrian"
    polygon: list[Point] = Field(min_length=3)

    def contains(self, x_m: float, y_m: float) -> bool:
        inside = False
        pts = self.polygon
        for a, b in zip(pts, pts[1:] + pts[:1], strict=True):
            if (a.y_m > y_m) != (b.y_m > y_m):
                cross = a.x_m + (y_m - a.y_m) * (b.x_m - a.x_m) / (b.y_m - a.y_m)
                if x_m < cross:
                    inside = not inside
        return inside

    def area_m2(self) -> float:
        pts = self.polygon
        twice = sum(a.x_m * b.y_m - b.x_m * a.y_m for a, b in zip(pts, pts[1:] + pts[:1], strict=True))
        return abs(twice) / 2.0


class DevicePlacement(Strict):
    device_id: Name
    sensors: list[Sensor] = Field(min_length=1)
    position: Point
    height_m: Annotated[float, Field(ge=0.0, le=100.0)] = 4.0
    heading_deg: Annotated[float, Field(ge=0.0, lt=360.0)] = 0.0
    fov_deg: Annotated[float, Field(gt=0.0, le=180.0)] = 70.0
    zone: Name | None = None
    profile: Name = "generic-linux"


class GeoOrigin(Strict):
    """Where the plan's origin lies on Earth, so alerts can carry coordinates (CAP areas)."""

    lat: Annotated[float, Field(ge=-90.0, le=90.0)]
    lon: Annotated[float, Field(ge=-180.0, le=180.0)]

    def to_latlon(self, x_m: float, y_m: float) -> tuple[float, float]:
        lat = self.lat + y_m / 111_320.0
        lon = self.lon + x_m / (111_320.0 * math.cos(math.radians(self.lat)))
        return lat, lon


class SiteDescription(Strict):
    site: Name
    name: Annotated[str, Field(max_length=200)]
    width_m: Annotated[float, Field(gt=0.0)]
    depth_m: Annotated[float, Field(gt=0.0)]
    origin: GeoOrigin | None = None
    temperature_c: Annotated[float, Field(ge=-40.0, le=60.0)] = 15.0
    zones: list[Zone] = Field(default_factory=list)
    devices: list[DevicePlacement] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names(self) -> SiteDescription:
        for kind, names in (
            ("zone", [z.name for z in self.zones]),
            ("device", [d.device_id for d in self.devices]),
        ):
            seen = {n for n in names if names.count(n) > 1}
            if seen:
                raise ValueError(f"duplicate {kind} names: {sorted(seen)}")
        return self

    def device(self, device_id: str) -> DevicePlacement:
        for placement in self.devices:
            if placement.device_id == device_id:
                return placement
        raise KeyError(f"device {device_id!r} is not on the plan of site {self.site!r}")

    def zone_at(self, x_m: float, y_m: float) -> str | None:
        for zone in self.zones:
            if zone.contains(x_m, y_m):
                return zone.name
        return None


def speed_of_sound(temperature_c: float) -> float:
    """Metres per second in dry air."""
    return 331.3 * math.sqrt(1.0 + temperature_c / 273.15)
