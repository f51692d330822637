"""`impetus edge analyse FILE`: a recording through a profile's detectors, offline and lossless.

Technicians tune thresholds with it and analysts re-examine an incident: a WAV goes through the
profile's audio detectors, a video file, an image or a folder of images through its video
detectors, every sample in order (nothing is dropped, unlike a live agent that keeps only the
newest frame). Each detection becomes the envelope the device would send, through the same
privacy gate, and is yielded with its offset from the start of the file.

A still image is shown to the detectors as a camera holding that view for `still_s` seconds, so
trackers that confirm an object over several frames see it as a live camera would.

`detectors` names installed detectors to run instead of the profile's list (the profile's settings
where it has them, defaults otherwise), for example the crowd detector, which no shipped profile
enables because it needs a surveyed ground plane. With a site plan that places the device, the
crowd detector takes its four-point ground calibration from the camera's pose, as the simulator does.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2

from impetus.configfile import ConfigError, load_toml_model
from impetus.edge_agent import plugins
from impetus.edge_agent.clock import SystemClock
from impetus.edge_agent.config import MODELS_DIR, DetectorSetting, Profile, load_profile
from impetus.edge_agent.detectors.base import Detection, Detector, DetectorContext
from impetus.edge_agent.simulate import with_ground_calibration
from impetus.edge_agent.sources.base import Sample, SampleKind, Source, VideoFrame
from impetus.edge_agent.sources.file_video import IMAGE_SUFFIXES, FileVideoConfig, FileVideoSource
from impetus.edge_agent.sources.wav_file import WavFileConfig, WavFileSource, read_wav
from impetus.privacy.gate import PrivacyGate, PrivacyRefusal
from impetus.privacy.policy import DEFAULT_POLICY, load_policy
from impetus.protocol import ContractViolation, make_event
from impetus.protocol.site import SiteDescription

log = logging.getLogger(__name__)

AUDIO_SUFFIXES = (".wav", ".wave")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".m4v", ".webm", ".mjpeg", ".mpg", ".mpeg", ".ts")
STILL_FPS = 2.0


class AnalyseError(ValueError):
    """A file, profile or site plan that cannot be analysed; the message says what was expected."""


@dataclass(frozen=True)
class AnalyseOptions:
    profile: str = "generic-linux"
    site_plan: Path | None = None
    device_id: str = "analyse"
    sample_rate: int = 16_000
    still_s: float = 5.0
    fps: float | None = None
    start: datetime | None = None
    models_dir: Path = MODELS_DIR
    detectors: tuple[str, ...] = ()


def media_kind(path: Path) -> tuple[SampleKind, str]:
    """('audio'|'video', 'wav'|'video'|'image'|'folder') from what the path is, or AnalyseError."""
    if not path.exists():
        raise AnalyseError(f"{path}: no such file or folder")
    if path.is_dir():
        if not any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.iterdir()):
            raise AnalyseError(
                f"{path}: a folder with no images in it (expected {', '.join(IMAGE_SUFFIXES)})"
            )
        return "video", "folder"
    suffix = path.suffix.lower()
    if suffix in AUDIO_SUFFIXES:
        return "audio", "wav"
    if suffix in IMAGE_SUFFIXES:
        return "video", "image"
    if suffix in VIDEO_SUFFIXES:
        return "video", "video"
    raise AnalyseError(
        f"{path}: unknown kind of recording {suffix or '(no suffix)'!r}; expected a WAV "
        f"({', '.join(AUDIO_SUFFIXES)}), a video ({', '.join(VIDEO_SUFFIXES)}), an image "
        f"({', '.join(IMAGE_SUFFIXES)}) or a folder of images"
    )


class _StillImage(Source):
    """One image held in view for `frames` frames at STILL_FPS."""

    type_name = "still_image"
    kind = "video"
    Config = FileVideoConfig

    def __init__(self, config: FileVideoConfig, frames: int) -> None:
        super().__init__(config)
        self.path = config.path
        self.frames = frames
        self.start = config.start or datetime.now(UTC)
        self._index = 0
        self._image = None

    def open(self) -> None:
        self._image = cv2.imread(str(self.path), cv2.IMREAD_COLOR)
        if self._image is None:
            raise AnalyseError(f"{self.path}: not a readable image (OpenCV cannot decode it)")

    def read(self) -> VideoFrame | None:
        if self._image is None or self._index >= self.frames:
            return None
        frame = VideoFrame(self._image, self.start + timedelta(seconds=self._index / STILL_FPS), self._index)
        self._index += 1
        return frame


def _source(path: Path, form: str, options: AnalyseOptions) -> Source:
    if form == "wav":
        _, rate = read_wav(path)
        if rate != options.sample_rate:
            log.warning(
                "%s is at %d Hz; resampled to %d Hz for the detectors", path, rate, options.sample_rate
            )
        return WavFileSource(WavFileConfig(path=path, sample_rate=options.sample_rate, start=options.start))
    config = FileVideoConfig(path=path, fps=options.fps, start=options.start)
    if form == "image":
        return _StillImage(config, max(1, round(options.still_s * STILL_FPS)))
    return FileVideoSource(config)


def _site(options: AnalyseOptions) -> tuple[SiteDescription | None, str]:
    if options.site_plan is None:
        return None, "analyse"
    plan = load_toml_model(options.site_plan, SiteDescription)
    return plan, plan.site


def _settings(profile: Profile, names: tuple[str, ...]) -> dict[str, DetectorSetting]:
    """The profile's detectors, or the `names` asked for (profile settings where it has them)."""
    if not names:
        return dict(profile.detectors)
    installed = plugins.detectors()
    chosen = {}
    for name in names:
        if name in profile.detectors:
            chosen[name] = profile.detectors[name]
        elif name in installed:
            chosen[name] = DetectorSetting(name, installed[name].Config.model_validate({"type": name}))
        else:
            raise AnalyseError(f"no detector {name!r} is installed; known: {', '.join(sorted(installed))}")
    return chosen


def _detectors(
    settings: dict[str, DetectorSetting], profile: Profile, kind: SampleKind, context: DetectorContext
) -> list[Detector]:
    installed = plugins.detectors()
    chosen = [
        installed[name](setting.config, context)
        for name, setting in settings.items()
        if setting.config.enabled and installed[name].consumes == kind
    ]
    if not chosen:
        names = ", ".join(settings) or "none"
        raise AnalyseError(f"profile {profile.name} has no enabled {kind} detector (it has: {names})")
    return chosen


def analyse(path: Path, options: AnalyseOptions | None = None) -> Iterator[dict[str, Any]]:
    """`{"offset_s", "event"}` for every event the profile's detectors find in the recording."""
    options = options or AnalyseOptions()
    if options.start is None:
        options = replace(options, start=datetime.now(UTC))
    kind, form = media_kind(path)
    try:
        profile = load_profile(options.profile)
        plan, site = _site(options)
    except ConfigError as error:
        raise AnalyseError(str(error)) from None
    placement = None
    if plan is not None and any(d.device_id == options.device_id for d in plan.devices):
        placement = plan.device(options.device_id)
    context = DetectorContext(
        device_id=options.device_id,
        site=site,
        models_dir=options.models_dir,
        execution_providers=tuple(profile.settings.execution_providers),
        placement=placement,
        site_plan=plan,
        extras={"inference_threads": profile.settings.inference_threads, "zone": None},
    )
    settings = _settings(profile, options.detectors)
    if placement is not None:
        settings = with_ground_calibration(settings, placement)
    detectors = _detectors(settings, profile, kind, context)
    gate = PrivacyGate(load_policy(DEFAULT_POLICY))
    clock = SystemClock()
    try:
        source = _source(path, form, options)
        source.open()
    except (FileNotFoundError, ValueError) as error:
        raise AnalyseError(str(error)) from None
    try:
        for detector in detectors:
            detector.setup()
    except (FileNotFoundError, ValueError) as error:
        source.close()
        raise AnalyseError(str(error)) from None
    start = options.start
    assert start is not None
    seq = 0

    def emitted(detections: list[Detection]) -> Iterator[dict[str, Any]]:
        nonlocal seq
        for detection in detections:
            event = _envelope(detection, options.device_id, site, seq, gate, clock)
            if event is not None:
                seq += 1
                yield {"offset_s": round((detection.ts - start).total_seconds(), 6), "event": event}

    samples = 0
    try:
        while (sample := _read(source, path)) is not None:
            samples += 1
            for detector in detectors:
                yield from emitted(detector.process(sample))
        if samples == 0:
            raise AnalyseError(f"{path}: nothing could be decoded from it (an empty or corrupt {form} file)")
        for detector in detectors:
            yield from emitted(detector.finish())
    finally:
        source.close()
        for detector in detectors:
            detector.close()


def _read(source: Source, path: Path) -> Sample | None:
    try:
        return source.read()
    except ValueError as error:
        raise AnalyseError(f"{path}: {error}") from None


def _envelope(
    detection: Detection, device_id: str, site: str, seq: int, gate: PrivacyGate, clock: SystemClock
) -> dict[str, Any] | None:
    try:
        event = make_event(
            detection.type,
            device_id=device_id,
            site=site,
            zone=detection.zone,
            seq=seq,
            payload=detection.payload,
            ts=detection.ts,
            clock=clock.quality(),
            privacy=gate.stamp(),
            confidence=detection.confidence,
        )
        return gate.admit(event).wire_dict()
    except ContractViolation as violation:
        log.error("a %s detection breaks the event contract: %s", detection.type, violation)
    except PrivacyRefusal as refusal:
        log.info("the privacy gate refused a %s event: %s", detection.type, refusal)
    return None
