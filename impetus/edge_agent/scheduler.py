"""Runs sources and detectors in threads with latest-sample semantics.

Each source has a reader thread; each detector fed by it has a worker thread and a small buffer
that keeps only the newest samples (one frame for video, a few blocks for audio). A detector
slower than its source never builds up latency: the samples it could not take in time are
dropped and counted, and what it processes next is the newest. Finite sources (files, a
scenario) end the run when they are exhausted. `lossless=True` makes readers wait for the
detectors instead, so tests and benchmarks see every sample and are deterministic.

>>> scheduler = Scheduler([Feed(source, [Route("objects", detector, max_fps=5)])], on_detection)
>>> scheduler.start(); scheduler.wait(); scheduler.stop()
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from impetus.edge_agent.detectors.base import Detection, Detector
from impetus.edge_agent.sources.base import Sample, Source, VideoFrame
from impetus.protocol.payloads import DetectorHealth, SourceHealth

log = logging.getLogger(__name__)

FPS_WINDOW_S = 10.0
DetectionSink = Callable[[str, Detection], None]


class NewestBuffer:
    """A bounded hand-over buffer that keeps the newest samples and counts what it drops."""

    def __init__(self, capacity: int = 1, lossless: bool = False) -> None:
        if capacity < 1:
            raise ValueError(f"buffer capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self.lossless = lossless
        self.dropped = 0
        self._items: deque[Sample] = deque()
        self._closed = False
        self._discard = False
        self._cond = threading.Condition()

    def put(self, sample: Sample) -> bool:
        """Offer a sample; False once the buffer is closed (the consumer is gone)."""
        with self._cond:
            while self.lossless and len(self._items) >= self.capacity and not self._closed:
                self._cond.wait()
            if self._closed:
                return False
            if len(self._items) >= self.capacity:
                self._items.popleft()
                self.dropped += 1
            self._items.append(sample)
            self._cond.notify_all()
            return True

    def take(self) -> Sample | None:
        """The oldest kept sample (the newest when capacity is 1); None when closed and empty."""
        with self._cond:
            while not self._items and not self._closed:
                self._cond.wait()
            if self._discard or not self._items:
                return None
            sample = self._items.popleft()
            self._cond.notify_all()
            return sample

    def close(self, discard: bool = False) -> None:
        """No more samples; the consumer finishes what is kept unless `discard`."""
        with self._cond:
            self._closed = True
            self._discard = discard
            self._cond.notify_all()


@dataclass
class Route:
    """One detector fed by one source; `name` is how health reports it."""

    name: str
    detector: Detector
    max_fps: float | None = None


@dataclass
class Feed:
    source: Source
    routes: list[Route]
    capacity: int = 1


@dataclass
class _RouteState:
    route: Route
    buffer: NewestBuffer
    processed: int = 0
    events: int = 0
    errors: int = 0
    busy_s: float = 0.0
    recent: deque[tuple[float, float]] = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, started: float, seconds: float, events: int) -> None:
        with self.lock:
            self.processed += 1
            self.events += events
            self.busy_s += seconds
            self.recent.append((started + seconds, seconds))
            while self.recent and self.recent[0][0] < started + seconds - FPS_WINDOW_S:
                self.recent.popleft()

    def health(self, now: float, running_s: float) -> DetectorHealth:
        with self.lock:
            recent = [r for r in self.recent if r[0] >= now - FPS_WINDOW_S]
            window = min(FPS_WINDOW_S, max(running_s, 1e-6))
            mean_ms = 1000.0 * sum(r[1] for r in recent) / len(recent) if recent else 0.0
            return DetectorHealth(
                fps=len(recent) / window,
                inference_ms=mean_ms,
                dropped=self.buffer.dropped,
                events=self.events,
            )


class Scheduler:
    def __init__(self, feeds: list[Feed], on_detection: DetectionSink, lossless: bool = False) -> None:
        self.feeds = feeds
        self.on_detection = on_detection
        self.lossless = lossless
        self.produced: dict[str, int] = {}
        self._states: list[tuple[Feed, list[_RouteState]]] = [
            (feed, [_RouteState(route, NewestBuffer(feed.capacity, lossless)) for route in feed.routes])
            for feed in feeds
        ]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._started_at = 0.0
        # The newest camera frame, in memory only: what an operator-requested snapshot is cut from.
        self._newest_frame: VideoFrame | None = None

    def start(self) -> None:
        """Set up detectors and open sources here, so a missing model or file fails loudly now."""
        for feed, states in self._states:
            for state in states:
                state.route.detector.setup()
            feed.source.open()
            self.produced[feed.source.config.name] = 0
        self._started_at = time.monotonic()
        for feed, states in self._states:
            name = feed.source.config.name
            for state in states:
                self._spawn(f"detect-{state.route.name}", self._work, state)
            self._spawn(f"read-{name}", self._read, feed, states)

    def _spawn(self, name: str, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _read(self, feed: Feed, states: list[_RouteState]) -> None:
        name = feed.source.config.name
        try:
            while not self._stop.is_set():
                sample = feed.source.read()
                if sample is None:
                    break
                self.produced[name] += 1
                if isinstance(sample, VideoFrame):
                    self._newest_frame = sample
                for state in states:
                    state.buffer.put(sample)
        except Exception:
            log.exception("source %s failed; its detectors stop", name)
        finally:
            for state in states:
                state.buffer.close(discard=self._stop.is_set())

    def _work(self, state: _RouteState) -> None:
        route = state.route
        min_period = 1.0 / route.max_fps if route.max_fps and not self.lossless else 0.0
        while (sample := state.buffer.take()) is not None:
            started = time.monotonic()
            try:
                detections = route.detector.process(sample)
            except Exception:
                state.errors += 1
                if state.errors == 1 or state.errors % 100 == 0:
                    log.exception(
                        "detector %s failed on sample %d (%d failures)",
                        route.name,
                        sample.index,
                        state.errors,
                    )
                detections = []
            state.record(started, time.monotonic() - started, len(detections))
            for detection in detections:
                self.on_detection(route.name, detection)
            if min_period and self._stop.wait(max(0.0, started + min_period - time.monotonic())):
                return
        if self._stop.is_set():
            return
        try:
            finished = route.detector.finish()
        except Exception:
            log.exception("detector %s failed at the end of its source", route.name)
            finished = []
        for detection in finished:
            self.on_detection(route.name, detection)

    def newest_frame(self) -> VideoFrame | None:
        """The last frame any camera delivered (None before the first, or without a camera)."""
        return self._newest_frame

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every finite source is exhausted and its detectors are done."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            thread.join(remaining)
            if thread.is_alive():
                return False
        return True

    @property
    def finished(self) -> bool:
        """True once finite sources are exhausted; never for an agent with nothing to read
        (a device that only reports health keeps running until stopped)."""
        return bool(self._threads) and all(not thread.is_alive() for thread in self._threads)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop reading, let each detector finish the sample in hand, close sources and detectors."""
        self._stop.set()
        for _, states in self._states:
            for state in states:
                state.buffer.close(discard=True)
        self.wait(timeout)
        for feed, states in self._states:
            feed.source.close()
            for state in states:
                state.route.detector.close()

    def health(self) -> dict[str, DetectorHealth]:
        now = time.monotonic()
        running = now - self._started_at if self._started_at else 0.0
        return {
            state.route.name: state.health(now, running) for _, states in self._states for state in states
        }

    def source_health(self) -> dict[str, SourceHealth]:
        return {
            feed.source.config.name: health
            for feed, _ in self._states
            if (health := feed.source.health()) is not None
        }

    def processed(self) -> dict[str, int]:
        return {state.route.name: state.processed for _, states in self._states for state in states}
