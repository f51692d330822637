"""The correlation rules as typed data: grouping window, per-type defaults, escalations, watchdog.

The defaults ship as `rules/default.toml` (read it for what each key means); a city passes its
own file with `impetus aggregator serve --rules FILE`. Mistakes are reported as
`FILE: key.path: expected ...` by the shared config loader.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from impetus.configfile import load_toml_model, validate

Severity = Literal["minor", "moderate", "severe", "extreme"]
SEVERITIES: tuple[str, ...] = ("minor", "moderate", "severe", "extreme")
Level = Literal["A", "B", "C", "D", "E", "F"]
GroupKey = Literal["site", "zone", "device"]
ALERT_TYPES: tuple[str, ...] = (
    "gunshot",
    "crowd",
    "left_object",
    "vehicle_in_pedestrian_zone",
    "tamper",
    "device_offline",
    "object",
    "cyber",
)
DEFAULT_RULES = "default.toml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Grouping(_Strict):
    window_s: Annotated[float, Field(gt=0.0)] = 120.0


class Inhibition(_Strict):
    tamper_untrusted_s: Annotated[float, Field(ge=0.0)] = 600.0


class Watchdog(_Strict):
    offline_after_s: Annotated[float, Field(gt=0.0)] = 90.0
    check_every_s: Annotated[float, Field(gt=0.0)] = 5.0
    # A device that stopped cleanly (its own `offline` status, reason `shutdown`) raises a minor
    # device-offline alert only if it is still away after this long; 0: never.
    stopped_after_s: Annotated[float, Field(ge=0.0)] = 3600.0


class TypeRule(_Strict):
    title: Annotated[str, Field(max_length=100)]
    group_by: list[GroupKey] = Field(default_factory=lambda: ["site", "zone"])
    alert: bool = True
    severity: Severity = "moderate"
    urgency: Literal["Immediate", "Expected", "Future", "Past", "Unknown"] = "Expected"
    certainty: Literal["Observed", "Likely", "Possible", "Unlikely", "Unknown"] = "Likely"
    min_confidence: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    min_level: Level | None = None
    dispersal_severity: Severity | None = None


class FollowedByDispersal(_Strict):
    name: str
    description: str = ""
    kind: Literal["followed_by_dispersal"]
    alert_type: Literal["gunshot"] = "gunshot"
    within_s: Annotated[float, Field(gt=0.0)] = 60.0
    distance_m: Annotated[float, Field(gt=0.0)] = 150.0
    severity: Severity = "extreme"


class SustainedLevel(_Strict):
    name: str
    description: str = ""
    kind: Literal["sustained_level"]
    alert_type: Literal["crowd"] = "crowd"
    level: Level = "F"
    for_s: Annotated[float, Field(gt=0.0)] = 120.0
    severity: Severity = "severe"


Escalation = Annotated[FollowedByDispersal | SustainedLevel, Field(discriminator="kind")]


class Rules(_Strict):
    grouping: Grouping = Grouping()
    inhibition: Inhibition = Inhibition()
    watchdog: Watchdog = Watchdog()
    types: dict[str, TypeRule]
    escalation: list[Escalation] = Field(default_factory=list)

    def rule_for(self, alert_type: str) -> TypeRule | None:
        return self.types.get(alert_type)


def load_rules(path: Path | str | None = None) -> Rules:
    """The rules in `path`, or the shipped defaults."""
    if path is not None:
        return load_toml_model(path, Rules)
    text = resources.files("impetus.aggregator.rules").joinpath(DEFAULT_RULES).read_text("utf-8")
    return validate(DEFAULT_RULES, tomllib.loads(text), Rules)


def more_severe(a: str, b: str) -> str:
    return a if SEVERITIES.index(a) >= SEVERITIES.index(b) else b
