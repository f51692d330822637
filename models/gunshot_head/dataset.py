"""Labelled clips from the synthesiser, as a microphone on a pole would record them.

Each clip is 2.5 s at 16 kHz: an urban background (rain, crowd, traffic, speech, music or a quiet
night, from a pool of longer recordings-to-be) with one event at 1.0-1.3 s: a gunshot (a burst of
one to five shots from one weapon, 5-150 m away) or one of the hard negatives at the distances it
is usually heard from. Every clip draws its own surroundings (ground, facades, reverberation),
temperature, humidity and microphone overload point. The train and test sets differ in seeds,
hence in every sound, distance, room and noise level; `SPLITS` keeps their seed ranges apart.

Used by `train.py` (fit) and `benchmarks/gunshot.py` (held-out evaluation).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from impetus.edge_agent.audio.stream import Candidate, ImpulseStream
from impetus.scenario.propagation import Reflections, delay_s, propagate, to_full_scale
from impetus.scenario.sounds import CALIBRES, NEGATIVE_KINDS, synthesise

SAMPLE_RATE = 16_000
CLIP_S = 2.5
MATCH_S = 0.003
SPLITS = {"train": 0, "test": 1_000_000, "bench": 2_000_000, "validation": 3_000_000}

DISTANCES_M: dict[str, tuple[float, float]] = {
    "gunshot": (5.0, 150.0),
    "door_slam": (2.0, 30.0),
    "balloon_pop": (2.0, 60.0),
    "firecracker": (5.0, 150.0),
    "firework": (30.0, 300.0),
    "clap": (1.0, 20.0),
    "hammering": (2.0, 50.0),
    "engine": (2.0, 20.0),
    "speech": (0.5, 8.0),
    "music": (3.0, 40.0),
    "rain": (1.0, 5.0),
    "crowd": (1.0, 10.0),
}
BACKGROUNDS = ("rain", "crowd", "engine", "speech", "music", "quiet")


@dataclass(frozen=True)
class Clip:
    audio: np.ndarray
    kind: str
    distance_m: float
    arrivals: tuple[float, ...]
    """Direct-path arrival of each shot, in samples from the clip start (gunshots only)."""


def random_surroundings(rng: np.random.Generator) -> Reflections:
    return Reflections(
        ground_coefficient=float(rng.uniform(0.0, 0.95)),
        source_height_m=float(rng.uniform(0.5, 2.0)),
        mic_height_m=float(rng.uniform(2.5, 6.0)),
        facades=int(rng.integers(0, 6)),
        facade_gain=float(rng.uniform(0.1, 0.5)),
        rt60_s=float(rng.choice([0.0, rng.uniform(0.2, 1.5)])),
        critical_distance_m=float(rng.uniform(5.0, 40.0)),
    )


def background(rng: np.random.Generator, duration_s: float) -> np.ndarray:
    """Urban background as pressure at the microphone (pascal), `duration_s` long."""
    n = round(duration_s * SAMPLE_RATE)
    kind = str(rng.choice(BACKGROUNDS))
    if kind == "quiet":
        return np.zeros(n, np.float32)
    dry = synthesise(kind, SAMPLE_RATE, rng, duration_s=duration_s)
    low, high = DISTANCES_M[kind]
    heard = propagate(
        dry,
        SAMPLE_RATE,
        float(rng.uniform(low * 2, high * 3)),
        15.0,
        random_surroundings(rng),
        rng,
        noise_db_spl=None,
    )
    return heard[:n]


def make_clip(kind: str, rng: np.random.Generator) -> Clip:
    n = round(CLIP_S * SAMPLE_RATE)
    low, high = DISTANCES_M[kind]
    distance = float(np.exp(rng.uniform(np.log(low), np.log(high))))
    temperature = float(rng.uniform(-10.0, 35.0))
    room = random_surroundings(rng)
    start = float(rng.uniform(1.0, 1.3))
    pressure = background(rng, CLIP_S)
    arrivals: list[float] = []
    if kind == "gunshot":
        calibre = CALIBRES[int(rng.integers(len(CALIBRES)))].name  # one weapon per burst
        shots = int(rng.choice([1, 1, 2, 3, 5]))
        gap = float(rng.uniform(0.08, 0.6))
        for i in range(shots):
            dry = synthesise("gunshot", SAMPLE_RATE, rng, calibre=calibre)
            emitted = start + i * gap * float(rng.uniform(0.9, 1.1))
            _add(
                pressure,
                propagate(dry, SAMPLE_RATE, distance, temperature, room, rng, noise_db_spl=None),
                emitted,
            )
            arrivals.append((emitted + delay_s(distance, temperature)) * SAMPLE_RATE)
    else:
        duration = (
            CLIP_S - start
            if kind not in ("door_slam", "balloon_pop", "firecracker", "firework", "clap")
            else None
        )
        dry = synthesise(kind, SAMPLE_RATE, rng, duration_s=duration)
        _add(
            pressure, propagate(dry, SAMPLE_RATE, distance, temperature, room, rng, noise_db_spl=None), start
        )
    pressure += rng.standard_normal(n).astype(np.float32) * np.float32(
        20e-6 * 10 ** (rng.uniform(25, 35) / 20)
    )
    audio = to_full_scale(pressure, full_scale_db_spl=float(rng.uniform(116.0, 126.0)))
    return Clip(audio=audio, kind=kind, distance_m=distance, arrivals=tuple(a for a in arrivals if a < n))


def _add(into: np.ndarray, signal: np.ndarray, at_s: float) -> None:
    start = round(at_s * SAMPLE_RATE)
    end = min(len(into), start + len(signal))
    if end > start:
        into[start:end] += signal[: end - start]


def candidates(clip: Clip, stream: ImpulseStream, block: int = 1600) -> list[tuple[Candidate, int | None]]:
    """Run the clip through the streaming pipeline; label each candidate 1 (a shot's direct
    arrival, within 3 ms) or 0 (anything else: negatives, and in gunshot clips the echoes and
    reverberation bursts that must not count as shots); None is kept for impulses within 30 ms
    after an arrival, which the gate's refractory time makes ambiguous (the ground reflection)."""
    found: list[Candidate] = []
    for k in range(0, len(clip.audio), block):
        found += stream.feed(clip.audio[k : k + block])
    found += stream.flush()
    labelled: list[tuple[Candidate, int | None]] = []
    for candidate in found:
        if clip.kind != "gunshot":
            labelled.append((candidate, 0))
            continue
        offsets = [(candidate.onset_sample - a) / SAMPLE_RATE for a in clip.arrivals]
        if any(abs(o) <= MATCH_S for o in offsets):
            labelled.append((candidate, 1))
        elif any(0.0 < o <= 0.03 for o in offsets):
            labelled.append((candidate, None))
        else:
            labelled.append((candidate, 0))
    return labelled


def kinds_for(index: int) -> str:
    """Half the clips are gunshots; the rest cycle through the hard negatives."""
    return "gunshot" if index % 2 == 0 else NEGATIVE_KINDS[(index // 2) % len(NEGATIVE_KINDS)]


EVERYDAY_NEGATIVES = ("door_slam", "balloon_pop", "clap", "hammering")
"""The hard negatives of an ordinary street; firecrackers and fireworks belong to festival nights."""
BED_S = 10.0
FADE_S = 1.0


class Street:
    """Hours of mixed urban background for false-alarm rates, generated from pools of sounds.

    Synthesising every second of a day afresh costs hours of CPU; instead `beds` background
    recordings (rain, crowd, traffic, talk, music, quiet; 10 s each) and `events` everyday hard
    negatives (door slams, balloon pops, claps, hammering, each heard at its own distance and in its
    own surroundings) are made once. The stream overlaps two layers of beds, each bed faded in and
    out and drawn with its own level, and drops events at random times (Poisson, one every
    `event_every_s` on average, each drawn with its own level) onto it, with fresh microphone
    self-noise throughout. A day holds thousands of renderings of each pooled event, each over a
    different background at a different level: the rate measures how often the detector mistakes
    these kinds of sound, not how often it mistakes new sound sources of them.

    Example::

        street = Street(np.random.default_rng(7))
        for chunk in street.chunks(hours=1.0):
            detector_input(chunk)
    """

    def __init__(
        self, rng: np.random.Generator, beds: int = 48, events: int = 240, event_every_s: float = 10.0
    ) -> None:
        self.rng = rng
        self.event_every_s = event_every_s
        self.beds = [background(rng, BED_S) for _ in range(beds)]
        self.events = [
            self._event(str(EVERYDAY_NEGATIVES[i % len(EVERYDAY_NEGATIVES)])) for i in range(events)
        ]
        self.full_scale_db_spl = float(rng.uniform(116.0, 126.0))
        self.noise_pa = 20e-6 * 10 ** (float(rng.uniform(25, 35)) / 20)

    def _event(self, kind: str) -> np.ndarray:
        low, high = DISTANCES_M[kind]
        distance = float(np.exp(self.rng.uniform(np.log(low), np.log(high))))
        dry = synthesise(kind, SAMPLE_RATE, self.rng, duration_s=2.0 if kind == "hammering" else None)
        room = random_surroundings(self.rng)
        return propagate(
            dry, SAMPLE_RATE, distance, float(self.rng.uniform(-10, 35)), room, self.rng, noise_db_spl=None
        )

    def chunks(self, hours: float) -> Iterator[np.ndarray]:
        """The stream as consecutive (BED_S - FADE_S) s chunks of full-scale audio in [-1, 1]."""
        rng = self.rng
        hop = round((BED_S - FADE_S) * SAMPLE_RATE)
        fade = round(FADE_S * SAMPLE_RATE)
        ramp = np.sin(0.5 * np.pi * (np.arange(fade) + 0.5) / fade).astype(np.float32) ** 2
        window = np.concatenate([ramp, np.ones(hop - fade, np.float32), ramp[::-1]])
        tail = max(fade, max(len(e) for e in self.events))
        carry = np.zeros(tail, np.float32)
        next_event = float(rng.exponential(self.event_every_s))
        for index in range(int(np.ceil(hours * 3600 / (hop / SAMPLE_RATE)))):
            mix = np.zeros(hop + tail, np.float32)
            for _ in range(2):
                bed = self.beds[int(rng.integers(len(self.beds)))]
                mix[: hop + fade] += window * bed[: hop + fade] * np.float32(10 ** (rng.uniform(-6, 6) / 20))
            mix[:tail] += carry
            start = index * hop / SAMPLE_RATE
            while next_event < start + hop / SAMPLE_RATE:
                event = self.events[int(rng.integers(len(self.events)))]
                _add(mix, event * np.float32(10 ** (rng.uniform(-6, 6) / 20)), next_event - start)
                next_event += float(rng.exponential(self.event_every_s))
            carry = mix[hop:].copy()
            chunk = mix[:hop] + rng.standard_normal(hop, np.float32) * np.float32(self.noise_pa)
            yield to_full_scale(chunk, self.full_scale_db_spl)
