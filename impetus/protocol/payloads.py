"""Typed payloads, one per event type. Every model forbids unknown fields: a payload that says
more than the contract allows is refused, which is also what keeps personal data off the wire."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Score = Annotated[float, Field(ge=0.0, le=1.0)]
Name = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
ShortText = Annotated[str, Field(max_length=200)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Box(Strict):
    """A box in normalised image coordinates (0..1), origin top left."""

    x: Annotated[float, Field(ge=0.0, le=1.0)]
    y: Annotated[float, Field(ge=0.0, le=1.0)]
    w: Annotated[float, Field(ge=0.0, le=1.0)]
    h: Annotated[float, Field(ge=0.0, le=1.0)]


class GroundPoint(Strict):
    """A position on the site plan in metres (site frame: x east, y north, origin at a corner)."""

    x_m: float
    y_m: float


ObjectClass = Literal[
    "person",
    "bicycle",
    "car",
    "motorbike",
    "bus",
    "truck",
    "backpack",
    "handbag",
    "suitcase",
    "umbrella",
    "other",
]
VehicleClass = Literal["bicycle", "car", "motorbike", "bus", "truck"]
BagClass = Literal["backpack", "handbag", "suitcase", "other"]


class GunshotPayload(Strict):
    onset_ts: datetime = Field(description="Device-clock onset, UTC, to the microsecond")
    peak_dbfs: Annotated[float, Field(le=0.0, ge=-200.0)]
    duration_ms: Annotated[float, Field(ge=0.0, le=10_000.0)]
    score: Score
    label: Literal["gunshot", "explosion", "machine_gun", "impulse"] = "gunshot"
    burst_id: Name | None = None
    shot_index: Annotated[int, Field(ge=0, le=1000)] = 0
    sample_rate: Annotated[int, Field(ge=8000, le=192_000)] = 16_000


class CrowdMotion(Strict):
    speed_mps: Annotated[float, Field(ge=0.0, le=50.0)]
    direction_deg: Annotated[float, Field(ge=0.0, lt=360.0)]
    coherence: Score
    dispersal: bool = False


class CrowdPayload(Strict):
    count: Annotated[int, Field(ge=0, le=1_000_000)]
    area_m2: Annotated[float, Field(gt=0.0)]
    density: Annotated[float, Field(ge=0.0, le=20.0, description="persons per square metre")]
    level_of_service: Literal["A", "B", "C", "D", "E", "F"]
    trend: Literal["rising", "steady", "falling"] = "steady"
    method: Literal["detection", "regression"] = "detection"
    motion: CrowdMotion | None = None


class ObjectPayload(Strict):
    class_name: ObjectClass
    box: Box
    score: Score
    track_id: Annotated[int, Field(ge=0)]
    dwell_s: Annotated[float, Field(ge=0.0)] = 0.0
    position: GroundPoint | None = None


class LeftObjectPayload(Strict):
    class_name: BagClass
    box: Box
    score: Score
    track_id: Annotated[int, Field(ge=0)]
    dwell_s: Annotated[float, Field(ge=0.0)]
    unattended_s: Annotated[float, Field(ge=0.0)]
    position: GroundPoint | None = None


class VehiclePayload(Strict):
    class_name: VehicleClass
    box: Box
    score: Score
    track_id: Annotated[int, Field(ge=0)]
    dwell_s: Annotated[float, Field(ge=0.0)] = 0.0
    speed_mps: Annotated[float, Field(ge=0.0, le=100.0)] | None = None
    position: GroundPoint | None = None


class TamperPayload(Strict):
    kind: Literal["covered", "defocused", "moved", "blackout", "enclosure_opened"]
    score: Score
    detail: ShortText | None = None


class DetectorHealth(Strict):
    fps: Annotated[float, Field(ge=0.0)]
    inference_ms: Annotated[float, Field(ge=0.0)]
    dropped: Annotated[int, Field(ge=0)] = 0
    events: Annotated[int, Field(ge=0)] = 0


class SourceHealth(Strict):
    """A live source's state: a camera that disappeared is `reopening` (with back-off)."""

    state: Literal["delivering", "reopening", "closed"]
    samples: Annotated[int, Field(ge=0)] = 0
    losses: Annotated[int, Field(ge=0)] = 0
    last_error: ShortText | None = None


class HealthPayload(Strict):
    uptime_s: Annotated[float, Field(ge=0.0)]
    cpu_percent: Annotated[float, Field(ge=0.0)] | None = None
    cpu_temp_c: float | None = None
    throttled: bool | None = None
    mem_used_mb: Annotated[float, Field(ge=0.0)] | None = None
    outbox_backlog: Annotated[int, Field(ge=0)]
    outbox_dropped: Annotated[int, Field(ge=0)] = 0
    clock_offset_ms: float | None = None
    detectors: dict[Name, DetectorHealth] = Field(default_factory=dict, max_length=32)
    sources: Annotated[dict[Name, SourceHealth], Field(max_length=16)] | None = None
    audit_head: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = None


class StatusPayload(Strict):
    state: Literal["online", "offline"]
    agent_version: ShortText
    profile: Name | None = None
    capabilities: list[Name] = Field(default_factory=list, max_length=32)
    # Why an `offline` status: `shutdown` when the agent stopped cleanly and said so itself,
    # `connection_lost` in its Last Will (the broker publishes it when the device vanishes).
    # The watchdog alerts on the second, not on a planned stop.
    reason: Literal["shutdown", "connection_lost"] | None = None


PAYLOADS: dict[str, type[Strict]] = {
    "gunshot": GunshotPayload,
    "crowd": CrowdPayload,
    "object": ObjectPayload,
    "left_object": LeftObjectPayload,
    "vehicle_in_pedestrian_zone": VehiclePayload,
    "tamper": TamperPayload,
    "health": HealthPayload,
    "status": StatusPayload,
}
