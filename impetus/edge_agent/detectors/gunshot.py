"""Gunshots from a microphone: one `gunshot` event per shot, onset time to a fraction of a millisecond.

Two stages, like every impetus detector. The onset gate (`audio/onset.py`) looks at every 2 ms of
audio for a sharp rise above the adaptive noise floor; it costs microseconds per block and lets a
few impulses a minute through in a busy street. Only those reach the expensive stage: the impulse
is measured (`audio/impulse.py`: onset by threshold crossing with sub-sample interpolation, peak,
duration, shape), YAMNet classifies the 0.975 s ending `post_onset_s` after it, and the gunshot head
(`models/gunshot_head/`) decides. An impulse that arrives soon after a confirmed shot and is much
quieter (after a shot that clipped the microphone: that does not clip too) is its echo and is
dropped; shots less than `burst_gap_s` apart share a `burst_id` and count up `shot_index`; within
a burst an impulse needs only the head's `burst_threshold` (a shot in the previous one's
reverberation scores lower, and a look-alike rarely follows a confirmed shot); a
shot that follows the previous one within `automatic_gap_s` (400 rounds a minute and faster: no
one pulls a trigger that fast) is labelled `machine_gun`. The
event leaves `post_onset_s` plus a block after the shot; the audio stays in a ring buffer in
memory and nowhere else.

    [[detectors]]
    type = "gunshot"
    threshold = 0.9          # default: the head's own, set when it was fitted
    burst_threshold = 0.6    # default: the head's own (fit_burst_threshold.py)
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import Field

from impetus.edge_agent.audio.head import GunshotHead
from impetus.edge_agent.audio.stream import Candidate, ImpulseStream
from impetus.edge_agent.audio.yamnet import Yamnet
from impetus.edge_agent.detectors.base import Detection, Detector, DetectorConfig, register_detector
from impetus.edge_agent.sources.base import AudioBlock, Sample
from impetus.protocol.payloads import GunshotPayload

log = logging.getLogger(__name__)

WARN_EVERY_S = 60.0
CLIPPED_DBFS = -0.5


class GunshotConfig(DetectorConfig):
    type: Literal["gunshot"] = "gunshot"
    yamnet_dir: Path = Field(Path("yamnet"), description="relative to the profile's models directory")
    head_file: Path = Field(
        Path("gunshot_head/gunshot_head.json"), description="relative to models directory"
    )
    threshold: Annotated[float, Field(gt=0.0, lt=1.0)] | None = None
    burst_threshold: Annotated[float, Field(gt=0.0, lt=1.0)] | None = None
    rise_db: Annotated[float, Field(ge=3.0, le=60.0)] = 15.0
    jump_db: Annotated[float, Field(ge=3.0, le=60.0)] = 6.0
    min_frame_db: Annotated[float, Field(ge=-120.0, le=0.0)] = -70.0
    echo_window_s: Annotated[float, Field(ge=0.0, le=2.0)] = 0.15
    echo_margin_db: Annotated[float, Field(ge=0.0, le=40.0)] = 6.0
    burst_gap_s: Annotated[float, Field(gt=0.0, le=30.0)] = 2.0
    automatic_gap_s: Annotated[float, Field(ge=0.0, le=1.0)] = 0.15


@register_detector
class GunshotDetector(Detector):
    """Example::

    detector = GunshotDetector(GunshotConfig(), DetectorContext("mic-1", "plaza", Path("models")))
    detector.setup()
    for block in microphone_blocks:
        for detection in detector.process(block):
            print(detection.payload.onset_ts, detection.payload.score)
    """

    type_name = "gunshot"
    consumes = "audio"
    Config = GunshotConfig
    declared_cost_ms = 0.3

    config: GunshotConfig

    def setup(self) -> None:
        models = self.context.models_dir
        self.yamnet = Yamnet(models / self.config.yamnet_dir, self.context.execution_providers)
        self.head = GunshotHead.load(models / self.config.head_file)
        self.threshold = self.config.threshold if self.config.threshold is not None else self.head.threshold
        burst = self.config.burst_threshold or self.head.burst_threshold or self.threshold
        self.burst_threshold = min(burst, self.threshold)
        self._stream: ImpulseStream | None = None
        self._origin = 0
        self._anchor: tuple[datetime, int] | None = None
        self._last_shot: tuple[float, float] | None = None
        self._burst: tuple[str, int, float] | None = None
        self._warned = 0.0

    def process(self, sample: Sample) -> list[Detection]:
        if not isinstance(sample, AudioBlock):
            raise TypeError(f"the gunshot detector consumes audio blocks, got {type(sample).__name__}")
        stream = self._stream_for(sample)
        self._anchor = (sample.ts, sample.first_sample)
        self._check_signal(sample.samples)
        found: list[Detection] = []
        for candidate in stream.feed(sample.samples):
            detection = self._decide(candidate, stream.sample_rate)
            if detection is not None:
                found.append(detection)
        return found

    def finish(self) -> list[Detection]:
        """A recording that ends less than `post_onset_s` after a shot still reports it: the rest
        of the patch is padded with silence, as the head's training clips were."""
        if self._stream is None:
            return []
        decided = [self._decide(c, self._stream.sample_rate) for c in self._stream.flush()]
        self._stream, self._last_shot, self._burst = None, None, None
        return [d for d in decided if d is not None]

    def _stream_for(self, block: AudioBlock) -> ImpulseStream:
        """The stream, restarted if the rate changed or samples were lost (a gap would shift time)."""
        stream = self._stream
        if (
            stream is None
            or stream.sample_rate != block.sample_rate
            or (block.first_sample != self._origin + stream.samples_seen)
        ):
            if stream is not None:
                log.warning(
                    "audio stream discontinuity at sample %d: gunshot gate restarts", block.first_sample
                )
            stream = ImpulseStream(
                self.yamnet,
                block.sample_rate,
                self.head.post_onset_s,
                self.head.admits,
                rise_db=self.config.rise_db,
                jump_db=self.config.jump_db,
                min_frame_db=self.config.min_frame_db,
            )
            self._stream, self._origin = stream, block.first_sample
        return stream

    def _time_of(self, stream_sample: float, sample_rate: int) -> datetime:
        assert self._anchor is not None
        ts, first = self._anchor
        return ts + timedelta(seconds=(self._origin + stream_sample - first) / sample_rate)

    def _decide(self, candidate: Candidate, sample_rate: int) -> Detection | None:
        onset_s = candidate.onset_sample / sample_rate
        peak = candidate.impulse.peak_dbfs
        if self._last_shot is not None:
            last_onset, last_peak = self._last_shot
            if (
                onset_s - last_onset < self.config.echo_window_s
                and peak < last_peak - self.config.echo_margin_db
            ):
                return None
        score = self.head.score(self.head.features(candidate, self.yamnet))
        burst = self._burst
        if burst is not None and onset_s - burst[2] > self.config.burst_gap_s:
            burst = None
        if score < (self.threshold if burst is None else self.burst_threshold):
            return None
        self._last_shot = (onset_s, peak)
        onset_ts = self._time_of(candidate.onset_sample, sample_rate)
        label: Literal["gunshot", "machine_gun"] = "gunshot"
        if burst is not None:
            burst_id, index = burst[0], burst[1] + 1
            if onset_s - burst[2] <= self.config.automatic_gap_s:
                label = "machine_gun"
        else:
            burst_id, index = f"b{int(onset_ts.timestamp() * 1e6)}", 0
        self._burst = (burst_id, index, onset_s)
        payload = GunshotPayload(
            onset_ts=onset_ts,
            peak_dbfs=max(-200.0, peak),
            duration_ms=min(candidate.impulse.duration_ms, 10_000.0),
            score=round(score, 4),
            label=label,
            burst_id=burst_id,
            shot_index=min(index, 1000),
            sample_rate=sample_rate,
        )
        return Detection(type="gunshot", payload=payload, ts=onset_ts, confidence=round(score, 4))

    def _check_signal(self, samples: np.ndarray) -> None:
        """A clipped or dead microphone is a health problem, not a crash: say so, at most once a minute."""
        if len(samples) == 0 or time.monotonic() - self._warned < WARN_EVERY_S:
            return
        peak = float(np.max(np.abs(samples)))
        if peak == 0.0:
            log.warning("microphone delivers digital silence: check the device and its gain")
            self._warned = time.monotonic()
        elif float(np.mean(np.abs(samples) >= 0.999)) > 0.01:
            log.warning("microphone clips (more than 1 percent of samples at full scale): reduce the gain")
            self._warned = time.monotonic()
