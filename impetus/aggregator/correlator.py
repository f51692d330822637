"""Events in, few trustworthy alerts out: grouping, dedup, corroboration, escalation, silences,
inhibition, and device-offline alerts from the watchdog.

Ingest hands every newly stored event to `submit` (a queue put, never blocking ingest); one
thread takes them in batches and writes each batch's alert changes in one transaction, so every
changed alert is announced once per batch however many events it absorbed.

- Grouping and dedup: an event joins the open alert of its group (its type's `group_by` keys)
  if it comes within `grouping.window_s` of that alert's last event; a repeat from the same
  device only counts.
- Corroboration: each distinct device adds to the alert's confidence (noisy-OR of each device's
  best confidence); gunshot alerts are located from three or more microphones (TDOA).
- Inhibition: after a tamper report, the device's detections are marked untrusted for
  `inhibition.tamper_untrusted_s`; an alert only untrusted devices speak for is flagged.
- Silences: events matching a silence in force raise and join nothing (they stay stored).
- Escalation: rules of `rules/default.toml` raise severity, never lower it.

Timestamps are the devices' (event `ts`), so a replayed or delayed batch correlates as it happened.
"""

from __future__ import annotations

import json
import logging
import math
import queue
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from impetus.aggregator.alert_rules import FollowedByDispersal, Rules, SustainedLevel, more_severe
from impetus.aggregator.alerts_store import OPEN_STATUSES, AlertStore, HistoryEntry, now_ts
from impetus.aggregator.cyber_watch import CyberFinding
from impetus.aggregator.localisation import (
    Localisation,
    LocalisationInputError,
    localise_on_site,
    report_from_event,
)
from impetus.aggregator.shot_matching import group_reports
from impetus.aggregator.store import EventStore
from impetus.configfile import ConfigError, read_toml
from impetus.protocol import format_ts, parse_event
from impetus.protocol.envelope import GunshotEvent
from impetus.protocol.site import SiteDescription

log = logging.getLogger(__name__)

SYSTEM = "system"
LEVELS = "ABCDEF"
MAX_SHOT_REPORTS = 96
"""Gunshot reports kept per alert for localisation: the latest burst, not a whole siege."""
BATCH_MAX = 2000
REPLAY_MAX = 100_000
"""Recent tamper and crowd events read back per type at start-up to restore the time windows."""


def load_sop(alert_type: str, directory: Path | None = None) -> list[str]:
    """The checklist of `alert_type`: `<directory>/<type>.toml` (a city's own), else the shipped
    `sop/<type>.toml`, else the shipped `sop/default.toml`."""
    own = directory / f"{alert_type}.toml" if directory is not None else None
    if own is not None and own.is_file():
        return _steps(own)
    folder = resources.files("impetus.aggregator.sop")
    entry = folder.joinpath(f"{alert_type}.toml")
    if not entry.is_file():
        entry = folder.joinpath("default.toml")
    with resources.as_file(entry) as path:
        return _steps(path)


def _steps(path: Path) -> list[str]:
    steps = read_toml(path).get("steps")
    if not isinstance(steps, list) or not steps or not all(isinstance(s, str) and s for s in steps):
        raise ConfigError(path, ["steps: expected a non-empty list of texts, one per step"])
    return steps


@dataclass
class _Open:
    """What the correlator remembers of one open alert."""

    alert_id: int | None
    alert_type: str
    site: str
    zone: str | None
    device: str | None
    first_seen: datetime
    last_seen: datetime
    severity: str
    event_count: int = 0
    confidence_by_device: dict[str, float] = field(default_factory=dict)
    untrusted_devices: set[str] = field(default_factory=set)
    test: bool = True
    location: dict[str, Any] | None = None
    shots: deque[GunshotEvent] = field(default_factory=lambda: deque(maxlen=MAX_SHOT_REPORTS))
    pending_events: list[tuple[str, bool]] = field(default_factory=list)
    history: list[HistoryEntry] = field(default_factory=list)
    dirty: bool = False
    relocate: bool = False

    def confidence(self) -> float:
        trusted = [c for d, c in self.confidence_by_device.items() if d not in self.untrusted_devices]
        scores = trusted or list(self.confidence_by_device.values())
        return 1.0 - math.prod(1.0 - c for c in scores) if scores else 0.0

    def untrusted(self) -> bool:
        return bool(self.confidence_by_device) and set(self.confidence_by_device) <= self.untrusted_devices

    def escalate(self, severity: str, rule: str, description: str) -> None:
        raised = more_severe(severity, self.severity)
        if raised != self.severity:
            self.history.append(
                HistoryEntry(SYSTEM, "escalated", note=f"{rule}: {description} ({self.severity} -> {raised})")
            )
            self.severity = raised
            self.dirty = True


@dataclass(frozen=True)
class _Dispersal:
    ts: datetime
    site: str
    device: str
    position: tuple[float, float] | None


@dataclass(frozen=True)
class DeviceSilent:
    """From the watchdog: `device` has not been heard from since `last_seen`; `stopped`: it said
    goodbye itself (a planned stop, still away after `watchdog.stopped_after_s`)."""

    site: str
    device: str
    last_seen: datetime
    stopped: bool = False


@dataclass(frozen=True)
class DeviceBack:
    site: str
    device: str


class Correlator:
    def __init__(
        self,
        alerts: AlertStore,
        rules: Rules,
        site_plan: SiteDescription | None = None,
        sop_dir: Path | None = None,
        events: EventStore | None = None,
    ) -> None:
        """With `events`, the recent tamper and crowd events are read back at start-up, so a
        restart keeps the inhibition and escalation windows, not only the open alerts."""
        self._alerts = alerts
        self._rules = rules
        self._site = site_plan
        self._queue: queue.SimpleQueue[dict[str, Any] | DeviceSilent | DeviceBack | CyberFinding | None] = (
            queue.SimpleQueue()
        )
        self._thread: threading.Thread | None = None
        self._open: dict[tuple[str | None, ...], _Open] = {}
        self._closed: set[int] = set()
        self._closed_lock = threading.Lock()
        self._tampered: dict[tuple[str, str], datetime] = {}
        self._dispersals: deque[_Dispersal] = deque(maxlen=1000)
        self._level_since: dict[tuple[str | None, ...], datetime] = {}
        # Loaded now, so a broken SOP file stops the start rather than a batch of alerts.
        self._sops: dict[str, list[str]] = {
            kind: load_sop(kind, sop_dir) for kind, rule in rules.types.items() if rule.alert
        }
        self._sop_dir = sop_dir
        self._extra_touched: list[_Open] = []
        self.counters = {"processed": 0, "silenced": 0, "untrusted": 0, "alerts_raised": 0}
        self._idle = threading.Event()
        self._idle.set()
        self._load_open()
        if events is not None:
            self._replay_windows(events)
        alerts.add_listener(self._on_alert_change)

    # -- public ---------------------------------------------------------------------------------

    def submit(self, item: dict[str, Any] | DeviceSilent | DeviceBack | CyberFinding) -> None:
        """Ingest's listener: queue the event for the correlator thread and return at once."""
        self._idle.clear()
        self._queue.put(item)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="correlator", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)
            self._thread = None

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """True once everything submitted so far is processed (tests, the demo's summary)."""
        return self._idle.wait(timeout)

    def process(self, items: list[dict[str, Any] | DeviceSilent | DeviceBack | CyberFinding]) -> None:
        """Correlate one batch and write its alert changes in one transaction."""
        silences = self._alerts.silences(active_at=None)
        touched: list[_Open] = []
        for item in items:
            if isinstance(item, DeviceSilent):
                state = self._device_silent(item)
            elif isinstance(item, DeviceBack):
                self._device_back(item)
                continue
            elif isinstance(item, CyberFinding):
                state = self._cyber(item, silences)
            else:
                state = self._event(item, silences)
            if state is not None and state not in touched:
                touched.append(state)
        for state in touched:
            if state.relocate:
                self._locate(state)
        self._write(touched)

    # -- the thread -----------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            batch: list[dict[str, Any] | DeviceSilent | DeviceBack | CyberFinding] = []
            stopping = item is None
            if item is not None:
                batch.append(item)
            while not stopping and len(batch) < BATCH_MAX:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                else:
                    batch.append(more)
            if batch:
                try:
                    self.process(batch)
                except Exception:
                    log.exception("correlating a batch of %d failed", len(batch))
            if self._queue.empty():
                self._idle.set()
            if stopping:
                return

    def _load_open(self) -> None:
        """Remember the open alerts as they were: each device's best confidence, the devices
        marked untrusted and the gunshot reports come from the alert's stored events, so that
        events after a restart join these alerts and corroborate them as before."""
        for alert in self._alerts.open_alerts():
            rule = self._rules.rule_for(alert["type"])
            group_by = rule.group_by if rule else ["site", "zone"]
            state = _Open(
                alert_id=alert["id"],
                alert_type=alert["type"],
                site=alert["site"],
                zone=alert["zone"],
                device=alert["device"],
                first_seen=_parse_ts(alert["first_seen"]),
                last_seen=_parse_ts(alert["last_seen"]),
                severity=alert["severity"],
                event_count=alert["event_count"],
                test=alert["test"],
                location=alert["location"],
            )
            for item, untrusted in self._alerts.evidence(alert["id"]):
                device = item["device_id"]
                best = state.confidence_by_device.get(device, 0.0)
                state.confidence_by_device[device] = max(best, item["confidence"])
                if untrusted:
                    state.untrusted_devices.add(device)
                if item["type"] == "gunshot":
                    self._add_shot(state, item)
            state.relocate = False  # the stored location stands until a new report arrives
            if not state.confidence_by_device:  # device-offline alerts have no events
                state.confidence_by_device = dict.fromkeys(alert["devices"], alert["confidence"])
            self._open[_group(alert["type"], group_by, alert["site"], alert["zone"], alert["device"])] = state

    def _replay_windows(self, events: EventStore) -> None:
        """Tamper reports within the inhibition time, crowd events within the escalation windows
        (dispersals, a sustained level), counted back from the newest stored event."""
        newest = events.events(limit=1).items
        if not newest:
            return
        end = _parse_ts(newest[0]["ts"])
        tamper_since = end - timedelta(seconds=self._rules.inhibition.tamper_untrusted_s)
        for item in events.events(event_type="tamper", since=tamper_since, limit=REPLAY_MAX).items:
            self._tampered.setdefault((item["site"], item["device_id"]), _parse_ts(item["ts"]))
        window = self._rules.grouping.window_s
        horizon = max(
            (
                rule.within_s + window if isinstance(rule, FollowedByDispersal) else rule.for_s
                for rule in self._rules.escalation
            ),
            default=0.0,
        )
        crowd = events.events(event_type="crowd", since=end - timedelta(seconds=horizon), limit=REPLAY_MAX)
        for item in reversed(crowd.items):  # oldest first, as they happened
            ts, payload = _parse_ts(item["ts"]), item.get("payload") or {}
            self._note_dispersal(item, ts, payload)
            self._track_level(item, ts, payload, None)

    def _on_alert_change(self, alert: dict[str, Any]) -> None:
        if alert["status"] not in OPEN_STATUSES:
            with self._closed_lock:
                self._closed.add(alert["id"])

    # -- events ---------------------------------------------------------------------------------

    def _event(self, item: dict[str, Any], silences: list[dict[str, Any]]) -> _Open | None:
        self.counters["processed"] += 1
        kind: str = item["type"]
        site, zone, device = item["site"], item.get("zone"), item["device_id"]
        ts = _parse_ts(item["ts"])
        payload = item.get("payload") or {}
        if kind == "tamper":
            self._tampered[(site, device)] = ts
        untrusted = kind != "tamper" and self._is_tampered(site, device, ts)
        if untrusted:
            self.counters["untrusted"] += 1
        if kind == "crowd":
            self._note_dispersal(item, ts, payload)
        rule = self._rules.rule_for(kind)
        if rule is None or not rule.alert or item.get("confidence", 1.0) < rule.min_confidence:
            return None
        dispersal = kind == "crowd" and bool((payload.get("motion") or {}).get("dispersal"))
        if kind == "crowd" and not dispersal and not _level_at_least(payload, rule.min_level):
            self._track_level(item, ts, payload, None)
            return None
        if _silenced(silences, site, zone, device, kind, item["ts"]):
            self.counters["silenced"] += 1
            return None
        key = _group(kind, rule.group_by, site, zone, device)
        state = self._join_or_open(key, kind, site, zone, device, ts, rule.severity)
        state.last_seen = max(state.last_seen, ts)
        state.first_seen = min(state.first_seen, ts)
        state.event_count += 1
        state.test = state.test and bool(item.get("test"))
        if device not in state.confidence_by_device and state.confidence_by_device:
            state.history.append(HistoryEntry(SYSTEM, "corroborated", note=f"{device} reports it too"))
        state.confidence_by_device[device] = max(
            state.confidence_by_device.get(device, 0.0), item["confidence"]
        )
        if untrusted:
            state.untrusted_devices.add(device)
        state.pending_events.append((item["event_id"], untrusted))
        state.dirty = True
        if kind == "gunshot":
            self._add_shot(state, item)
            self._escalate_gunshot(state)
        if dispersal and rule.dispersal_severity is not None:
            state.escalate(rule.dispersal_severity, "dispersal", "the crowd disperses suddenly")
        if kind == "crowd":
            self._track_level(item, ts, payload, state)
            if dispersal:
                for other in list(self._open.values()):
                    if other.alert_type == "gunshot" and other.site == site and other is not state:
                        self._escalate_gunshot(other)
                        if other.dirty:
                            self._extra_touched.append(other)
        return state

    def _join_or_open(
        self,
        key: tuple[str | None, ...],
        kind: str,
        site: str,
        zone: str | None,
        device: str,
        ts: datetime,
        severity: str,
    ) -> _Open:
        window = timedelta(seconds=self._rules.grouping.window_s)
        state = self._open.get(key)
        with self._closed_lock:
            closed = state is not None and state.alert_id in self._closed
        if state is not None and not closed and state.first_seen - window <= ts <= state.last_seen + window:
            return state
        state = _Open(None, kind, site, zone, device, ts, ts, severity)
        self._open[key] = state
        return state

    def _is_tampered(self, site: str, device: str, ts: datetime) -> bool:
        since = self._tampered.get((site, device))
        if since is None:
            return False
        return abs((ts - since).total_seconds()) <= self._rules.inhibition.tamper_untrusted_s

    def _position_of(self, device: str, zone: str | None) -> tuple[float, float] | None:
        if self._site is None:
            return None
        for placement in self._site.devices:
            if placement.device_id == device:
                return placement.position.x_m, placement.position.y_m
        for candidate in self._site.zones:
            if candidate.name == zone:
                xs = [p.x_m for p in candidate.polygon]
                ys = [p.y_m for p in candidate.polygon]
                return sum(xs) / len(xs), sum(ys) / len(ys)
        return None

    def _note_dispersal(self, item: dict[str, Any], ts: datetime, payload: dict[str, Any]) -> None:
        if (payload.get("motion") or {}).get("dispersal"):
            position = self._position_of(item["device_id"], item.get("zone"))
            self._dispersals.append(_Dispersal(ts, item["site"], item["device_id"], position))

    def _escalate_gunshot(self, state: _Open) -> None:
        for rule in self._rules.escalation:
            if not isinstance(rule, FollowedByDispersal):
                continue
            shot_at = self._shot_position(state)
            for dispersal in self._dispersals:
                if dispersal.site != state.site:
                    continue
                after = (dispersal.ts - state.first_seen).total_seconds()
                if after < 0 or (dispersal.ts - state.last_seen).total_seconds() > rule.within_s:
                    continue
                if shot_at is not None and dispersal.position is not None:
                    distance = math.dist(shot_at, dispersal.position)
                    if distance > rule.distance_m:
                        continue
                state.escalate(rule.severity, rule.name, rule.description or "crowd dispersal after gunshot")
                return

    def _shot_position(self, state: _Open) -> tuple[float, float] | None:
        if state.location is not None:
            return state.location["x_m"], state.location["y_m"]
        heard = [self._position_of(d, None) for d in state.confidence_by_device]
        known = [p for p in heard if p is not None]
        if not known:
            return None
        return sum(p[0] for p in known) / len(known), sum(p[1] for p in known) / len(known)

    def _track_level(
        self, item: dict[str, Any], ts: datetime, payload: dict[str, Any], state: _Open | None
    ) -> None:
        for rule in self._rules.escalation:
            if not isinstance(rule, SustainedLevel):
                continue
            key = (item["site"], item.get("zone"), rule.name)
            if payload.get("level_of_service") != rule.level:
                self._level_since.pop(key, None)
                continue
            since = self._level_since.setdefault(key, ts)
            if state is not None and (ts - since).total_seconds() >= rule.for_s:
                state.escalate(rule.severity, rule.name, rule.description or f"level {rule.level} sustained")

    def _add_shot(self, state: _Open, item: dict[str, Any]) -> None:
        if self._site is None:
            return
        envelope = {k: v for k, v in item.items() if k != "received_at"}
        event = parse_event(envelope)
        if isinstance(event, GunshotEvent):
            state.shots.append(event)
            state.relocate = True

    def _locate(self, state: _Open) -> None:
        """The best-supported position of the alert's shots: most microphones, then smallest circle."""
        state.relocate = False
        site = self._site
        if site is None:
            return
        try:
            reports = [report_from_event(e, site) for e in state.shots if _on_plan(site, e.device_id)]
            best: Localisation | None = None
            for group in group_reports(reports, site):
                if len(group) < 3:
                    continue
                result = localise_on_site(group, site)
                if isinstance(result, Localisation) and (
                    best is None
                    or (len(result.used_devices), -result.radius_95_m)
                    > (len(best.used_devices), -best.radius_95_m)
                ):
                    best = result
        except (LocalisationInputError, ValueError) as error:
            log.warning("cannot locate the shots of alert %s: %s", state.alert_id, error)
            return
        if best is None:
            return
        x, y = best.position
        lat, lon = site.origin.to_latlon(x, y) if site.origin is not None else (None, None)
        state.location = {
            "x_m": round(x, 2),
            "y_m": round(y, 2),
            "radius_95_m": round(best.radius_95_m, 2),
            "lat": lat,
            "lon": lon,
            "devices": list(best.used_devices),
        }
        state.zone = site.zone_at(x, y) or state.zone
        state.dirty = True
        self._escalate_gunshot(state)

    # -- the watchdog's findings ------------------------------------------------------------------

    def _device_silent(self, item: DeviceSilent) -> _Open | None:
        rule = self._rules.rule_for("device_offline")
        if rule is None or not rule.alert:
            return None
        key = _group("device_offline", rule.group_by, item.site, None, item.device)
        existing = self._open.get(key)
        with self._closed_lock:
            if existing is not None and existing.alert_id not in self._closed:
                return None
        zone = None
        if self._site is not None and _on_plan(self._site, item.device):
            zone = self._site.device(item.device).zone
        state = _Open(
            None,
            "device_offline",
            item.site,
            zone,
            item.device,
            item.last_seen,
            item.last_seen,
            "minor" if item.stopped else rule.severity,
        )
        if item.stopped:
            state.history.append(
                HistoryEntry(SYSTEM, "note", note="the device stopped cleanly and has not come back")
            )
        state.confidence_by_device[item.device] = 1.0
        state.test = False
        state.event_count = 0
        state.dirty = True
        self._open[key] = state
        return state

    # -- the link's cyber findings ------------------------------------------------------------------

    def _cyber(self, finding: CyberFinding, silences: list[dict[str, Any]]) -> _Open | None:
        """An attack on the device link seen by the cyber watch: silenced, grouped and deduplicated
        like any event, its evidence in the alert's history."""
        rule = self._rules.rule_for("cyber")
        if rule is None or not rule.alert:
            return None
        site, device, ts = finding.site, finding.device_id, datetime.fromtimestamp(finding.at, UTC)
        if _silenced(silences, site, None, device, "cyber", format_ts(ts)):
            self.counters["silenced"] += 1
            return None
        key = _group("cyber", rule.group_by, site, None, device)
        state = self._join_or_open(key, "cyber", site, None, device, ts, rule.severity)
        state.last_seen = max(state.last_seen, ts)
        if state.event_count == 0:  # a new alert starts at the finding's severity
            state.severity = more_severe(finding.severity, state.severity)
        else:
            state.escalate(finding.severity, finding.kind, finding.summary)
        state.event_count += 1
        state.confidence_by_device[device] = 1.0
        state.test = False
        evidence = json.dumps(finding.evidence, sort_keys=True, default=str)
        state.history.append(HistoryEntry(SYSTEM, "note", note=f"{finding.summary}. Evidence: {evidence}"))
        state.dirty = True
        return state

    def _device_back(self, item: DeviceBack) -> None:
        rule = self._rules.rule_for("device_offline")
        if rule is None:
            return
        key = _group("device_offline", rule.group_by, item.site, None, item.device)
        state = self._open.pop(key, None)
        if state is None or state.alert_id is None:
            return

        def resolve(alert: dict[str, Any]) -> tuple[dict[str, Any], list[HistoryEntry]]:
            if alert["status"] not in OPEN_STATUSES:
                return {}, []
            return (
                {"status": "resolved", "closed_by": SYSTEM, "closed_at": now_ts()},
                [HistoryEntry(SYSTEM, "resolved", alert["status"], "resolved", "the device reports again")],
            )

        self._alerts.mutate(state.alert_id, resolve)

    # -- writing --------------------------------------------------------------------------------

    def _write(self, touched: list[_Open]) -> None:
        extra, self._extra_touched = self._extra_touched, []
        for other in extra:
            if other not in touched:
                touched.append(other)
        operations = []
        for state in touched:
            if not state.dirty:
                continue
            fields = self._fields(state)
            if state.alert_id is None:
                rule = self._rules.rule_for(state.alert_type)
                place = state.zone or state.device or state.site
                fields.update(
                    key=f"{state.alert_type}:{state.site}:{place}:{format_ts(state.first_seen)}",
                    site=state.site,
                    device=state.device,
                    type=state.alert_type,
                    urgency=rule.urgency if rule else "Unknown",
                    certainty=rule.certainty if rule else "Unknown",
                    status="new",
                    sop=[
                        {"step": n, "text": text, "done": False, "by": None, "at": None}
                        for n, text in enumerate(self._sop(state.alert_type), start=1)
                    ],
                    notes=[],
                )
                history = [HistoryEntry(SYSTEM, "raised", None, "new"), *state.history]
                operations.append(("create", fields, state.pending_events, history))
            else:
                operations.append(
                    ("update", {"id": state.alert_id, **fields}, state.pending_events, state.history)
                )
        if not operations:
            return
        ids = self._alerts.write_batch(operations)
        written = [s for s in touched if s.dirty]
        for state, alert_id in zip(written, ids, strict=True):
            if state.alert_id is None:
                self.counters["alerts_raised"] += 1
            state.alert_id = alert_id
            state.pending_events = []
            state.history = []
            state.dirty = False

    def _fields(self, state: _Open) -> dict[str, Any]:
        """What may change with each event; the title too, since locating a shot may move the
        alert from the zone of the first microphone that heard it to the zone where it was fired."""
        rule = self._rules.rule_for(state.alert_type)
        title = rule.title if rule else state.alert_type
        place = state.zone or state.device or state.site
        return {
            "title": f"{title} at {state.site}" + (f"/{place}" if place != state.site else ""),
            "zone": state.zone,
            "severity": state.severity,
            "first_seen": format_ts(state.first_seen),
            "last_seen": format_ts(state.last_seen),
            "event_count": state.event_count,
            "devices": sorted(state.confidence_by_device),
            "confidence": round(state.confidence(), 4),
            "untrusted": state.untrusted(),
            "test": state.test,
            "location": state.location,
        }

    def _sop(self, alert_type: str) -> list[str]:
        if alert_type not in self._sops:
            self._sops[alert_type] = load_sop(alert_type, self._sop_dir)
        return self._sops[alert_type]


def _group(
    kind: str, group_by: list[str], site: str, zone: str | None, device: str | None
) -> tuple[str | None, ...]:
    return (
        kind,
        site,
        zone if "zone" in group_by else None,
        device if "device" in group_by else None,
    )


def _parse_ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _level_at_least(payload: dict[str, Any], level: str | None) -> bool:
    if level is None:
        return True
    current = payload.get("level_of_service")
    return isinstance(current, str) and current in LEVELS and LEVELS.index(current) >= LEVELS.index(level)


def _on_plan(site: SiteDescription, device_id: str) -> bool:
    return any(p.device_id == device_id for p in site.devices)


def _silenced(
    silences: list[dict[str, Any]], site: str, zone: str | None, device: str, kind: str, ts: str
) -> bool:
    for silence in silences:
        if not silence["starts_at"] <= ts < silence["ends_at"]:
            continue
        if all(
            silence[column] is None or silence[column] == value
            for column, value in (("site", site), ("zone", zone), ("device", device), ("type", kind))
        ):
            return True
    return False
