"""The scenario as data: what happens where and when, loaded from a TOML next to the site plan.

Times are scenario seconds from the start. `Timeline.compressed(duration_s)` rescales every
scenario time so a 20 s demo still plays every phase; physical quantities (walking and running
speeds, the gaps between shots, the sounds themselves) keep their real values, so what a sensor
records stays physically right even when the story is told fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Self

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from impetus.protocol.payloads import BagClass, Name, VehicleClass
from impetus.protocol.site import Point

DATA_DIR = Path(__file__).parent / "data"
DEFAULT_TIMELINE = DATA_DIR / "protest_attack.toml"

Seconds = Annotated[float, Field(ge=0.0)]
MIN_DURATION_S = 15.0
"""Shorter than this, the burst, the flight and the left bag no longer fit after one another."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Phase(Strict):
    name: Literal["gathering", "attack", "dispersal", "aftermath"]
    start_s: Seconds
    end_s: Seconds

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end_s < self.start_s:
            raise ValueError(f"phase {self.name!r} ends ({self.end_s} s) before it starts ({self.start_s} s)")
        return self


class CrowdPlan(Strict):
    """Who comes: `initial_people` at the start, rising to `peak_people` by `gathering_end_s`,
    `share_in_zone` of them standing in the gathering zone and the rest around the square."""

    gathering_zone: Name
    initial_people: Annotated[int, Field(ge=0, le=20_000)] = 40
    peak_people: Annotated[int, Field(ge=1, le=20_000)] = 1200
    share_in_zone: Annotated[float, Field(ge=0.0, le=1.0)] = 0.8
    gathering_end_s: Seconds
    walk_speed_mps: tuple[float, float] = (1.0, 1.6)
    flee_speed_mps: tuple[float, float] = (3.0, 6.0)
    reaction_s: tuple[float, float] = (0.3, 1.5)

    @model_validator(mode="after")
    def _sizes(self) -> Self:
        if self.initial_people > self.peak_people:
            raise ValueError(
                f"initial_people ({self.initial_people}) exceeds peak_people ({self.peak_people})"
            )
        return self


class SoundCue(Strict):
    """A sound that is not a gunshot but may sound like one: the detector's hard negatives."""

    kind: Literal["door_slam", "clap", "firecracker", "balloon_pop", "firework", "hammering"]
    t_s: Seconds
    position: Point
    height_m: Annotated[float, Field(ge=0.0, le=50.0)] = 1.5


class Attack(Strict):
    """A burst of `shots` from one position; the gaps are drawn from `interval_s` with the seed."""

    t_s: Seconds
    position: Point
    shots: Annotated[int, Field(ge=1, le=30)] = 4
    interval_s: tuple[float, float] = (0.2, 0.6)
    calibre: str | None = "9mm"
    height_m: Annotated[float, Field(ge=0.0, le=50.0)] = 1.4

    def shot_times(self, rng: np.random.Generator) -> list[float]:
        gaps = rng.uniform(*self.interval_s, size=self.shots - 1)
        return [self.t_s, *(self.t_s + np.cumsum(gaps)).tolist()]


class BagDrop(Strict):
    """A person walks in from `approach_from`, puts the bag down at `drop_s`, walks off to `leave_to`
    (and runs, once the shots are heard). The bag stays to the end."""

    class_name: BagClass = "backpack"
    drop_s: Seconds
    position: Point
    approach_from: Point
    leave_to: Point
    walk_speed_mps: Annotated[float, Field(gt=0.0, le=3.0)] = 1.4
    pause_s: Annotated[float, Field(ge=0.0, le=30.0)] = 1.0
    unattended_m: Annotated[float, Field(gt=0.0)] = 10.0


class VehicleEntry(Strict):
    """A vehicle drives along `path` at `speed_mps`, crossing into pedestrian `zone` at `enter_s`,
    and stops at the path's end."""

    class_name: VehicleClass = "car"
    enter_s: Seconds
    zone: Name
    path: list[Point] = Field(min_length=2)
    speed_mps: Annotated[float, Field(gt=0.0, le=30.0)] = 6.0


class Timeline(Strict):
    name: Name
    duration_s: Annotated[float, Field(ge=MIN_DURATION_S)]
    phases: list[Phase] = Field(min_length=1)
    crowd: CrowdPlan
    attack: Attack
    hard_negatives: list[SoundCue] = Field(default_factory=list)
    bag: BagDrop | None = None
    vehicle: VehicleEntry | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        end = self.duration_s
        times = {
            "attack.t_s": self.attack.t_s,
            "crowd.gathering_end_s": self.crowd.gathering_end_s,
            **{f"phases.{p.name}.end_s": p.end_s for p in self.phases},
            **{f"hard_negatives.{i}.t_s": c.t_s for i, c in enumerate(self.hard_negatives)},
        }
        if self.bag is not None:
            times["bag.drop_s"] = self.bag.drop_s
        if self.vehicle is not None:
            times["vehicle.enter_s"] = self.vehicle.enter_s
        late = [f"{key} = {value} s" for key, value in times.items() if value > end]
        if late:
            raise ValueError(f"times after duration_s ({end} s): {', '.join(late)}")
        early = [c.kind for c in self.hard_negatives if c.t_s >= self.attack.t_s]
        if early:
            raise ValueError(f"hard negatives must happen before the attack at {self.attack.t_s} s: {early}")
        return self

    def phase(self, name: str) -> Phase:
        for phase in self.phases:
            if phase.name == name:
                return phase
        raise KeyError(f"timeline {self.name!r} has no phase {name!r}")

    def compressed(self, duration_s: float) -> Timeline:
        """The same story told in `duration_s`: every scenario time scaled by one factor."""
        if duration_s < MIN_DURATION_S:
            raise ValueError(
                f"scenario duration {duration_s} s is too short; expected at least {MIN_DURATION_S} s"
            )
        k = duration_s / self.duration_s

        def scaled(model: BaseModel, *fields: str) -> BaseModel:
            return model.model_copy(update={f: getattr(model, f) * k for f in fields})

        return self.model_copy(
            update={
                "duration_s": duration_s,
                "phases": [
                    # The burst keeps its real length; every other phase is scaled.
                    p.model_copy(
                        update={"start_s": p.start_s * k, "end_s": p.start_s * k + p.end_s - p.start_s}
                    )
                    if p.name == "attack"
                    else scaled(p, "start_s", "end_s")
                    for p in self.phases
                ],
                "crowd": scaled(self.crowd, "gathering_end_s"),
                "attack": scaled(self.attack, "t_s"),
                "hard_negatives": [scaled(c, "t_s") for c in self.hard_negatives],
                "bag": scaled(self.bag, "drop_s") if self.bag else None,
                "vehicle": scaled(self.vehicle, "enter_s") if self.vehicle else None,
            }
        )
