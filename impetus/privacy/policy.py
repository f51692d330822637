"""The privacy policy: a versioned allow-list of what a device may send.

A policy names the event types that may leave and, per type, the payload fields that may leave
(`fields`) and those removed before sending (`redact`). Whatever is not listed is refused. No
policy can allow an image or audio field: those names are rejected when the policy is loaded.

```toml
policy_id = "counting-only"
version = 1
description = "Counts, boxes and sound events; no images, no audio, no positions of people."

[types.crowd]
fields = ["count", "area_m2", "density", "level_of_service", "trend", "method", "motion"]
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from impetus.configfile import load_toml_model
from impetus.protocol.envelope import EVENT_TYPES
from impetus.protocol.payloads import PAYLOADS, Name

POLICIES_DIR = Path(__file__).parent / "policies"
DEFAULT_POLICY = "counting-only"
# Names that would carry pixels or sound; no policy version may ever allow them.
NEVER_ALLOWED = frozenset(
    {"image", "images", "frame", "frames", "snapshot", "thumbnail", "jpeg", "png", "video", "clip"}
    | {"audio", "samples", "waveform", "recording", "pcm", "wav"}
)


class TypeRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    fields: list[str] = Field(default_factory=list)
    redact: list[str] = Field(default_factory=list)

    @field_validator("fields", "redact")
    @classmethod
    def _no_media(cls, names: list[str]) -> list[str]:
        forbidden = sorted(set(names) & NEVER_ALLOWED)
        if forbidden:
            raise ValueError(f"field names that carry images or audio can never be allowed: {forbidden}")
        return names


class SnapshotRule(BaseModel):
    """Operator-requested still images for verification. They never travel in an event (the wire
    contract has no media field); a policy with this table lets a device answer a request with one
    frame, only after the anonymiser ran with these settings. Without the table: no image leaves."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    on_request_only: Literal[True] = True
    max_per_hour: Annotated[int, Field(ge=1, le=60)] = 6
    face_threshold: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.2
    margin: Annotated[float, Field(ge=1.0, le=3.0)] = 1.3
    mode: Literal["blur", "pixelate", "solid"] = "blur"
    plates: bool = True
    persons: bool = False
    max_width: Annotated[int, Field(ge=160, le=1920)] = 640


class PrivacyPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    policy_id: Name
    version: Annotated[int, Field(ge=1)]
    description: Annotated[str, Field(max_length=500)] = ""
    types: dict[str, TypeRule]
    snapshots: SnapshotRule | None = None

    @model_validator(mode="after")
    def _known_types_and_fields(self) -> PrivacyPolicy:
        for event_type, rule in self.types.items():
            if event_type not in PAYLOADS:
                raise ValueError(f"unknown event type {event_type!r}; known: {', '.join(EVENT_TYPES)}")
            known = set(PAYLOADS[event_type].model_fields)
            unknown = sorted((set(rule.fields) | set(rule.redact)) - known)
            if unknown:
                raise ValueError(
                    f"types.{event_type}: {unknown} are not fields of a {event_type} payload; "
                    f"known: {sorted(known)}"
                )
            both = sorted(set(rule.fields) & set(rule.redact))
            if both:
                raise ValueError(f"types.{event_type}: {both} are both allowed and redacted")
        return self


def load_policy(name_or_path: str | Path) -> PrivacyPolicy:
    """A shipped policy by name (`counting-only`) or a policy TOML file by path."""
    candidate = Path(name_or_path)
    if candidate.suffix != ".toml":
        candidate = POLICIES_DIR / f"{name_or_path}.toml"
    return load_toml_model(candidate, PrivacyPolicy)
