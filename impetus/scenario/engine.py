"""`Scenario`: the validation exercise as every sensor of the site would record it.

Example::

    scenario = Scenario.default(duration_s=20)
    block = scenario.audio("pole-north", 12.0, 1600)       # 100 ms at 16 kHz, float32
    frame = scenario.frame("pole-west", 12.0)              # 640x360 BGR uint8
    scenario.write_ground_truth("truth.json")
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from impetus.configfile import load_toml_model
from impetus.protocol.site import DevicePlacement, SiteDescription, speed_of_sound
from impetus.scenario import ground_truth
from impetus.scenario.actors import OWNER_REACTION_S, BagOwner, Vehicle
from impetus.scenario.audio import Emission, MicrophoneRenderer
from impetus.scenario.camera import GroundCalibration, PinholeCamera
from impetus.scenario.crowd import CrowdTrack, simulate
from impetus.scenario.propagation import to_full_scale
from impetus.scenario.sprites import DrawnSprites, SpriteBank
from impetus.scenario.timeline import DATA_DIR, DEFAULT_TIMELINE, Timeline
from impetus.scenario.video import FrameTruth, People, SceneObject, SceneRenderer

DEFAULT_PLAN = DATA_DIR / "piazza.toml"
DEFAULT_START = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
FULL_SCALE_DB_SPL = 120.0
"""Sound level that reads 1.0 (the project's microphone convention, `propagation.to_full_scale`)."""

BAG_SIZES_M = {
    "backpack": (0.35, 0.25, 0.45),
    "suitcase": (0.45, 0.25, 0.65),
    "handbag": (0.30, 0.15, 0.30),
    "other": (0.40, 0.30, 0.40),
}
VEHICLE_SIZES_M = {
    "car": (1.8, 4.4, 1.5),
    "truck": (2.5, 8.0, 3.2),
    "bus": (2.55, 12.0, 3.1),
    "motorbike": (0.8, 2.1, 1.3),
    "bicycle": (0.6, 1.8, 1.1),
}

_shared: dict[tuple[Any, ...], Scenario] = {}
_shared_lock = threading.Lock()


class Scenario:
    """The site, the story, the crowd, and renderers for every microphone and camera.

    Everything is deterministic for a seed: the same call gives the same samples and pixels.
    """

    def __init__(
        self,
        site: SiteDescription,
        timeline: Timeline,
        seed: int = 0,
        *,
        start: datetime = DEFAULT_START,
        sprites: SpriteBank | None = None,
        free_field: bool = False,
    ) -> None:
        self.site = site
        self.timeline = timeline
        self.seed = seed
        self.start = start
        self.free_field = free_field
        self._check_names()
        rng = np.random.default_rng(seed)
        self.shot_times = timeline.attack.shot_times(rng)
        self.crowd: CrowdTrack = simulate(site, timeline.crowd, timeline.attack, timeline.duration_s, rng)
        self.emissions = self._emissions()
        self.owner = self._owner()
        self.vehicle = self._vehicle()
        self._mics: dict[str, MicrophoneRenderer] = {}
        self._cameras: dict[tuple[str, int, int], PinholeCamera] = {}
        self._scene = SceneRenderer(site, sprites or DrawnSprites(), seed)
        self._lock = threading.Lock()

    @classmethod
    def load(
        cls,
        plan_path: Path | str = DEFAULT_PLAN,
        timeline_path: Path | str = DEFAULT_TIMELINE,
        *,
        duration_s: float | None = None,
        seed: int = 0,
        **options: Any,
    ) -> Scenario:
        """A scenario from a site plan and a timeline file; `duration_s` compresses the timeline."""
        site = load_toml_model(plan_path, SiteDescription)
        timeline = load_toml_model(timeline_path, Timeline)
        if duration_s is not None:
            timeline = timeline.compressed(duration_s)
        return cls(site, timeline, seed, **options)

    @classmethod
    def default(cls, duration_s: float | None = None, seed: int = 0, **options: Any) -> Scenario:
        """The piazza and the protest-attack story (about 3 minutes unless `duration_s` is given)."""
        return cls.load(DEFAULT_PLAN, DEFAULT_TIMELINE, duration_s=duration_s, seed=seed, **options)

    @classmethod
    def shared(
        cls,
        plan_path: Path | str | None = None,
        timeline_path: Path | str | None = None,
        duration_s: float | None = None,
        seed: int = 0,
    ) -> Scenario:
        """One instance per process and arguments, so every simulated agent renders the same world
        (and the crowd is simulated once)."""
        plan = Path(plan_path or DEFAULT_PLAN).resolve()
        story = Path(timeline_path or DEFAULT_TIMELINE).resolve()
        key = (plan, story, duration_s, seed)
        with _shared_lock:
            if key not in _shared:
                _shared[key] = cls.load(plan, story, duration_s=duration_s, seed=seed)
            return _shared[key]

    def _check_names(self) -> None:
        zones = {z.name for z in self.site.zones}
        wanted = {"crowd.gathering_zone": self.timeline.crowd.gathering_zone}
        if self.timeline.vehicle is not None:
            wanted["vehicle.zone"] = self.timeline.vehicle.zone
        for key, name in wanted.items():
            if name not in zones:
                raise ValueError(
                    f"timeline {self.timeline.name!r}: {key} = {name!r} is not a zone of site "
                    f"{self.site.site!r}; expected one of {sorted(zones)}"
                )

    def _emissions(self) -> list[Emission]:
        attack = self.timeline.attack
        shots = [
            Emission(
                f"shot-{i}",
                "gunshot",
                t,
                attack.position.x_m,
                attack.position.y_m,
                attack.height_m,
                self.seed * 1000 + i,
                gunshot=True,
                calibre=attack.calibre,
            )
            for i, t in enumerate(self.shot_times)
        ]
        negatives = [
            Emission(
                f"{cue.kind}-{i}",
                cue.kind,
                cue.t_s,
                cue.position.x_m,
                cue.position.y_m,
                cue.height_m,
                self.seed * 1000 + 100 + i,
            )
            for i, cue in enumerate(self.timeline.hard_negatives)
        ]
        return sorted(shots + negatives, key=lambda e: e.t_s)

    def _owner(self) -> BagOwner | None:
        bag = self.timeline.bag
        if bag is None:
            return None
        attack = self.timeline.attack
        distance = np.hypot(bag.position.x_m - attack.position.x_m, bag.position.y_m - attack.position.y_m)
        return BagOwner(bag, attack.t_s + float(distance) / self.speed_of_sound + OWNER_REACTION_S)

    def _vehicle(self) -> Vehicle | None:
        entry = self.timeline.vehicle
        if entry is None:
            return None
        zone = next(z for z in self.site.zones if z.name == entry.zone)
        return Vehicle(entry, zone)

    @property
    def duration_s(self) -> float:
        return self.timeline.duration_s

    @property
    def speed_of_sound(self) -> float:
        return speed_of_sound(self.site.temperature_c)

    def device(self, device_id: str, sensor: str) -> DevicePlacement:
        placement = self.site.device(device_id)
        if sensor not in placement.sensors:
            raise ValueError(
                f"device {device_id!r} has no {sensor} on the plan of site {self.site.site!r} "
                f"(it has {placement.sensors})"
            )
        return placement

    def microphone(self, device_id: str) -> MicrophoneRenderer:
        renderer = self._mics.get(device_id)
        if renderer is None:
            placement = self.device(device_id, "microphone")
            renderer = MicrophoneRenderer(
                self.site, placement, self.emissions, self.crowd, self.seed, self.free_field
            )
            with self._lock:
                renderer = self._mics.setdefault(device_id, renderer)
        return renderer

    def pressure(self, device_id: str, t0_s: float, n_samples: int, sample_rate: int = 16_000) -> np.ndarray:
        """Sound pressure in pascal at the microphone, samples from `round(t0_s * sample_rate)`."""
        return self.microphone(device_id).pressure(round(t0_s * sample_rate), n_samples, sample_rate)

    def audio(self, device_id: str, t0_s: float, n_samples: int, sample_rate: int = 16_000) -> np.ndarray:
        """What the microphone records in [t0, t0 + n / sr): float32, 1.0 at FULL_SCALE_DB_SPL,
        clipped there like a real MEMS microphone. Consecutive calls join seamlessly."""
        pressure = self.pressure(device_id, t0_s, n_samples, sample_rate)
        return np.ascontiguousarray(to_full_scale(pressure, FULL_SCALE_DB_SPL))

    def camera(self, device_id: str, width: int = 640, height: int = 360) -> PinholeCamera:
        key = (device_id, width, height)
        camera = self._cameras.get(key)
        if camera is None:
            camera = PinholeCamera(self.device(device_id, "camera"), width, height)
            with self._lock:
                camera = self._cameras.setdefault(key, camera)
        return camera

    def ground_calibration(self, device_id: str, width: int = 640, height: int = 360) -> GroundCalibration:
        """Four image points and the ground points they show, and the image-to-ground homography."""
        return self.camera(device_id, width, height).ground_calibration()

    def people(self, t_s: float) -> People:
        xy, velocity, present = self.crowd.at(t_s)
        index = np.flatnonzero(present)
        ids = [f"person-{i}" for i in index]
        positions = xy[index].astype(np.float64)
        heights = self.crowd.heights_m[index].astype(np.float64)
        speeds = np.linalg.norm(velocity[index], axis=1).astype(np.float64)
        variants = (index * 7 + self.seed).astype(np.int64)
        if self.owner is not None and (spot := self.owner.position(t_s)) is not None:
            ids.append("owner")
            positions = np.vstack([positions, spot])
            heights = np.append(heights, 1.78)
            speeds = np.append(speeds, self.owner.speed(t_s))
            variants = np.append(variants, 5)
        return People(ids, positions.reshape(-1, 2), heights, speeds, variants)

    def props(self, t_s: float) -> list[SceneObject]:
        """Bags and vehicles in the scene at `t_s`."""
        out = []
        bag = self.timeline.bag
        if bag is not None and t_s >= bag.drop_s:
            w, length, h = BAG_SIZES_M[bag.class_name]
            out.append(SceneObject(bag.class_name, "bag-0", bag.position.x_m, bag.position.y_m, w, length, h))
        if self.vehicle is not None and (pose := self.vehicle.pose(t_s)) is not None:
            x, y, heading = pose
            w, length, h = VEHICLE_SIZES_M[self.vehicle.entry.class_name]
            out.append(
                SceneObject(self.vehicle.entry.class_name, "vehicle-0", x, y, w, length, h, heading, 2)
            )
        return out

    def frame(
        self,
        device_id: str,
        t_s: float,
        width: int = 640,
        height: int = 360,
        sprites: SpriteBank | None = None,
    ) -> np.ndarray:
        """What the camera sees at `t_s`: BGR uint8 (height, width, 3); `sprites` overrides the
        scenario's look for this frame (for instance `PhotoSprites` for a COCO detector)."""
        camera = self.camera(device_id, width, height)
        return self._scene.render(camera, self.people(t_s), self.props(t_s), t_s, sprites)

    def frame_truth(
        self,
        device_id: str,
        t_s: float,
        width: int = 640,
        height: int = 360,
        sprites: SpriteBank | None = None,
    ) -> FrameTruth:
        """Boxes (normalised), visible shares and counts of what `frame` shows at `t_s`."""
        camera = self.camera(device_id, width, height)
        return self._scene.truth(camera, self.people(t_s), self.props(t_s), t_s, sprites)

    def ground_truth(self, start: datetime | None = None) -> dict[str, Any]:
        """Shots, hard negatives, bag, vehicle and per-second crowd, anchored at `start` (UTC)."""
        inputs = ground_truth.TruthInputs(
            self.site, self.timeline, self.seed, self.emissions, self.crowd, self.owner, self.vehicle
        )
        return ground_truth.build(inputs, start or self.start)

    def write_ground_truth(self, path: Path | str, start: datetime | None = None) -> Path:
        return ground_truth.write(self.ground_truth(start), path)
