"""One edge agent: config -> sources -> scheduler -> detectors -> envelope -> privacy gate ->
outbox -> publisher. Several agents can share a process (the simulator runs many), each in its
own threads with its own outbox file and MQTT connection.

>>> agent = EdgeAgent(load_agent_config("device.toml"))
>>> agent.run(duration=60)        # or agent.start() ... agent.stop()
"""

from __future__ import annotations

import logging
import threading
import time

from impetus.edge_agent import plugins
from impetus.edge_agent.clock import Clock, SystemClock
from impetus.edge_agent.config import AgentConfig
from impetus.edge_agent.detectors.base import Detection, DetectorContext
from impetus.edge_agent.health import CpuLoad, cpu_temperature_c, memory_used_mb, throttled
from impetus.edge_agent.outbox import Outbox
from impetus.edge_agent.publisher import DeviceIdentity, Publisher
from impetus.edge_agent.scheduler import Feed, Route, Scheduler
from impetus.privacy.audit import AuditLog
from impetus.privacy.device_audit import DeviceAudit, audit_dir_for
from impetus.privacy.gate import DecisionHook, PrivacyGate, PrivacyRefusal
from impetus.protocol import ContractViolation, EnvelopeBase, make_event
from impetus.protocol.payloads import HealthPayload

log = logging.getLogger(__name__)


def detector_context(config: AgentConfig) -> DetectorContext:
    """What a detector of this device may know: the runtime and the self-test build it the same way."""
    return DetectorContext(
        device_id=config.device_id,
        site=config.site,
        models_dir=config.models_dir,
        execution_providers=tuple(config.profile.settings.execution_providers),
        placement=config.placement,
        site_plan=config.site_plan,
        extras={"inference_threads": config.profile.settings.inference_threads, "zone": config.zone},
    )


def build_feeds(config: AgentConfig) -> list[Feed]:
    """One feed per source, carrying a fresh instance of every enabled detector of its kind.

    Health names a route by its detector, or `detector-source` when several sources of one kind
    feed the same detector.
    """
    sources, detectors = plugins.sources(), plugins.detectors()
    context = detector_context(config)
    enabled = [s for s in config.detectors.values() if s.config.enabled]
    kinds = [sources[c.type].kind for c in config.sources]
    feeds = []
    for source_config, kind in zip(config.sources, kinds, strict=True):
        source = sources[source_config.type](source_config)
        shared = kinds.count(kind) > 1
        routes = [
            Route(
                name=f"{setting.name}-{source_config.name}" if shared else setting.name,
                detector=detectors[setting.name](setting.config, context),
                max_fps=setting.max_fps,
            )
            for setting in enabled
            if detectors[setting.name].consumes == kind
        ]
        if not routes:
            log.warning(
                "%s: no enabled detector consumes source %s (%s); it is not read",
                config.device_id,
                source_config.name,
                kind,
            )
            continue
        capacity = config.profile.settings.audio_buffer_blocks if kind == "audio" else 1
        feeds.append(Feed(source, routes, capacity))
    return feeds


class EdgeAgent:
    def __init__(
        self,
        config: AgentConfig,
        *,
        clock: Clock | None = None,
        lossless: bool = False,
        on_decision: DecisionHook | None = None,
        reconnect_min_s: int = 1,
        drain_timeout_s: float = 5.0,
        durable_outbox: bool | None = None,
    ) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        self.drain_timeout_s = drain_timeout_s
        # Every gate decision goes into the device's hash-chained audit log (issue #5).
        self.audit = DeviceAudit(AuditLog(audit_dir_for(config.outbox_path)), config.device_id)
        self.audit.policy_in_force(config.policy)

        def decided(event: EnvelopeBase, allowed: bool, reason: str) -> None:
            self.audit.on_decision(event, allowed, reason)
            if on_decision is not None:
                on_decision(event, allowed, reason)

        self.gate = PrivacyGate(config.policy, on_decision=decided)
        budget = config.profile.settings.outbox
        self.outbox = Outbox(
            config.outbox_path,
            max_rows=budget.max_rows,
            durable=budget.durable if durable_outbox is None else durable_outbox,
        )
        self.scheduler = Scheduler(build_feeds(config), self._on_detection, lossless=lossless)
        self.publisher = Publisher(
            DeviceIdentity(
                device_id=config.device_id,
                site=config.site,
                zone=config.zone,
                profile=config.profile.name,
                capabilities=tuple(config.detectors),
            ),
            self.outbox,
            self.gate,
            self.clock,
            config.broker,
            health=self._health,
            health_interval_s=config.profile.settings.health_interval_s,
            max_in_flight=config.profile.settings.outbox.max_in_flight,
            reconnect_min_s=reconnect_min_s,
            credentials=config.credentials,
        )
        self.invalid = 0
        self.final_backlog: int | None = None
        self._cpu = CpuLoad()
        self._started_at = 0.0
        self._stop_requested = threading.Event()
        self._stopped = False

    def _on_detection(self, route: str, detection: Detection) -> None:
        try:
            event = make_event(
                detection.type,
                device_id=self.config.device_id,
                site=self.config.site,
                zone=detection.zone or self.config.zone,
                seq=0,
                payload=detection.payload,
                ts=detection.ts,
                clock=self.clock.quality(),
                privacy=self.gate.stamp(),
                confidence=detection.confidence,
            )
        except ContractViolation as violation:
            self.invalid += 1
            log.error("detector %s produced an event that breaks the contract: %s", route, violation)
            return
        try:
            admitted = self.gate.admit(event)
        except PrivacyRefusal:
            return
        self.outbox.put(admitted)
        self.publisher.notify()

    def _health(self) -> HealthPayload:
        return HealthPayload(
            uptime_s=time.monotonic() - self._started_at,
            cpu_percent=self._cpu.percent(),
            cpu_temp_c=cpu_temperature_c(),
            throttled=throttled(),
            mem_used_mb=memory_used_mb(),
            outbox_backlog=self.outbox.backlog(),
            outbox_dropped=self.outbox.dropped(),
            clock_offset_ms=self.clock.quality().offset_ms,
            detectors=self.scheduler.health(),
            sources=self.scheduler.source_health() or None,
            audit_head=self.audit.head,
        )

    def start(self) -> None:
        self._started_at = time.monotonic()
        self.scheduler.start()
        self.publisher.start()

    def request_stop(self) -> None:
        """Ask `run` to return (from a signal handler or another thread)."""
        self._stop_requested.set()

    def run(self, duration: float | None = None) -> None:
        """Run until the sources are exhausted, `duration` seconds pass or `request_stop`."""
        self.start()
        self.serve(duration)

    def serve(self, duration: float | None = None) -> None:
        """The waiting half of `run`, for an agent already started; always ends stopped."""
        deadline = None if duration is None else time.monotonic() + duration
        try:
            while not self.scheduler.finished:
                remaining = 0.2 if deadline is None else min(0.2, deadline - time.monotonic())
                if remaining <= 0 or self._stop_requested.wait(remaining):
                    break
        finally:
            self.stop()

    def stop(self) -> None:
        """Stop detectors, send what the broker takes within the drain timeout, say offline."""
        if self._stopped:
            return
        self._stopped = True
        self.scheduler.stop()
        self.publisher.stop(drain_timeout=self.drain_timeout_s)
        self.final_backlog = self.outbox.backlog()
        self.outbox.close()
