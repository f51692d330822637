"""`impetus demo`: the validation scenario of IMPETUS's field exercises on one machine.

A protest gathers in the piazza, density rises, then an attack: gunshots heard by several
microphones, the crowd flees, a bag is left behind. The embedded broker, the aggregator and one
real edge agent per device of the site plan run in this process; the agents' sensors are the
scenario engine's synthesised audio and video. At the end the summary scores what the aggregator
stored against the scenario's ground truth.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from impetus.aggregator.localisation import Localisation, localise_on_site, report_from_event
from impetus.aggregator.service import AggregatorService, ServiceError
from impetus.aggregator.shot_matching import group_reports
from impetus.aggregator.soc import SocConfig
from impetus.aggregator.store import EventStore
from impetus.edge_agent.broker import BrokerAddress
from impetus.edge_agent.simulate import Simulation, simulated_configs
from impetus.protocol import parse_event
from impetus.protocol.envelope import GunshotEvent
from impetus.protocol.site import SiteDescription
from impetus.scenario import Scenario

log = logging.getLogger(__name__)

DEMO_ROOT = Path("var/demo")
PROGRESS_EVERY_S = 5.0
SETTLE_S = 3.0
MATCH_WINDOW_S = 0.05
STORY_SHARE = 0.85
"""With --duration, the story is compressed into this share of it; the rest lets the last events land."""


@dataclass(frozen=True)
class LocatedShot:
    emission: datetime
    x_m: float
    y_m: float
    radius_95_m: float
    devices: int
    truth: str
    error_m: float | None


def _run_dir() -> Path:
    path = DEMO_ROOT / datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _start_aggregator(
    db_path: Path, listen: str, console: Console, site: SiteDescription
) -> AggregatorService:
    operator = SocConfig(site=site)
    service = AggregatorService(None, db_path, listen, operator=operator)
    try:
        service.start()
    except ServiceError:
        host = listen.rpartition(":")[0]
        console.print(f"[yellow]{listen} is taken; serving the API on a free port instead[/]")
        service = AggregatorService(None, db_path, f"{host}:0", operator=operator)
        service.start()
    return service


def _alerts_summary(console: Console, service: AggregatorService) -> dict[str, Any]:
    """Events in -> alerts out: what the correlator made of the stored events."""
    soc = service.soc
    assert soc is not None and soc.correlator is not None
    soc.correlator.wait_idle(10.0)
    alerts, total = soc.alerts.page(limit=1000)
    events_in = service.store.event_count()
    table = Table(title=f"Alerts: {events_in} events in -> {total} alerts out")
    for column in ("id", "type", "severity", "zone", "events", "devices", "confidence", "location"):
        table.add_column(column, justify="right" if column in ("id", "events", "devices") else "left")
    for alert in reversed(alerts):
        where = alert["location"]
        table.add_row(
            str(alert["id"]),
            alert["type"],
            alert["severity"],
            alert["zone"] or "-",
            str(alert["event_count"]),
            str(alert["corroborating_devices"]),
            f"{alert['confidence']:.2f}" + (" untrusted" if alert["untrusted"] else ""),
            "-"
            if where is None
            else f"({where['x_m']:.1f}, {where['y_m']:.1f}) ±{where['radius_95_m']:.1f} m",
        )
    console.print(table)
    return {
        "events_in": events_in,
        "alerts_out": total,
        "alerts": [
            {
                key: alert[key]
                for key in (
                    "id",
                    "type",
                    "severity",
                    "zone",
                    "event_count",
                    "corroborating_devices",
                    "location",
                )
            }
            for alert in alerts
        ],
    }


def _progress_line(service: AggregatorService, elapsed: float, duration: float | None) -> str:
    counters = service.ingest.counters()
    by_type: dict[str, int] = {}
    for kinds in service.store.event_counts().values():
        for kind, n in kinds.items():
            by_type[kind] = by_type.get(kind, 0) + n
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(by_type.items())) or "none yet"
    of = f"/{duration:.0f}" if duration else ""
    return (
        f"t={elapsed:5.1f}{of} s  stored {counters['stored']} ({kinds})  "
        f"dead letters {counters['dead_letters']}"
    )


def _gunshot_events(store: EventStore) -> list[GunshotEvent]:
    page = store.events(event_type="gunshot", limit=1000)
    events = []
    for item in page.items:
        envelope = {k: v for k, v in item.items() if k != "received_at"}
        event = parse_event(envelope)
        if isinstance(event, GunshotEvent) and not event.test:
            events.append(event)
    return events


def _truth_sounds(truth: dict[str, Any]) -> list[tuple[datetime, float, float, str]]:
    sounds = [
        (datetime.fromisoformat(s["ts"]), s["x_m"], s["y_m"], f"shot {s['shot_index'] + 1}")
        for s in truth["shots"]
    ]
    sounds += [
        (datetime.fromisoformat(s["ts"]), s["x_m"], s["y_m"], f"{s['kind']} (not a gunshot)")
        for s in truth["hard_negatives"]
    ]
    return sounds


def locate_shots(store: EventStore, site: SiteDescription, truth: dict[str, Any]) -> list[LocatedShot]:
    """Group the stored gunshot reports into shots, locate each from three or more devices, and
    say which sound of the ground truth it was (a gunshot, or a hard negative taken for one)."""
    reports = [report_from_event(e, site) for e in _gunshot_events(store)]
    sounds = _truth_sounds(truth)
    located = []
    for group in group_reports(reports, site):
        result = localise_on_site(group, site)
        if not isinstance(result, Localisation) or not isinstance(result.emission_time, datetime):
            continue
        x, y = result.position
        emission = result.emission_time
        label, error = "no such sound", None
        nearest = min(sounds, key=lambda s: abs((s[0] - emission).total_seconds()), default=None)
        if nearest is not None and abs((nearest[0] - emission).total_seconds()) < MATCH_WINDOW_S:
            label, error = nearest[3], ((nearest[1] - x) ** 2 + (nearest[2] - y) ** 2) ** 0.5
        located.append(
            LocatedShot(emission, x, y, result.radius_95_m, len(result.used_devices), label, error)
        )
    return located


def _summary(
    console: Console,
    store: EventStore,
    site: SiteDescription,
    truth: dict[str, Any],
    run_dir: Path,
    db_path: Path,
) -> dict[str, Any]:
    counts = store.event_counts()
    devices = {d["device_id"]: d for d in store.devices()}
    kinds = sorted({k for per in counts.values() for k in per})
    table = Table(title="Events stored per device and type")
    table.add_column("device")
    table.add_column("state")
    for kind in kinds:
        table.add_column(kind, justify="right")
    table.add_column("outbox", justify="right")
    expected = [p.device_id for p in site.devices]
    for device_id in sorted(set(expected) | set(devices)):
        record = devices.get(device_id, {})
        per = counts.get((site.site, device_id), {})
        health = (record.get("last_health") or {}).get("payload", {})
        table.add_row(
            device_id,
            record.get("state", "never seen"),
            *(str(per.get(k, 0)) for k in kinds),
            str(health.get("outbox_backlog", "-")),
        )
    console.print(table)

    located = locate_shots(store, site, truth)
    shots = Table(title=f"Gunshots located (ground truth: {len(truth['shots'])} shots)")
    for column in ("emission (UTC)", "x m", "y m", "95% radius m", "devices", "ground truth", "error m"):
        shots.add_column(column, justify="right")
    for shot in located:
        shots.add_row(
            shot.emission.strftime("%H:%M:%S.%f")[:-3],
            f"{shot.x_m:.1f}",
            f"{shot.y_m:.1f}",
            f"{shot.radius_95_m:.1f}",
            str(shot.devices),
            shot.truth,
            "-" if shot.error_m is None else f"{shot.error_m:.1f}",
        )
    console.print(shots)

    dead = store.dead_letters(limit=5)
    console.print(f"dead letters: {dead.total}")
    for letter in dead.items:
        console.print(f"  {letter['reason_code']}: {letter['reason']}")
    console.print(f"database: {db_path}")
    console.print(f"ground truth: {run_dir / 'ground_truth.json'}")
    summary = {
        "devices": {
            d: {"state": devices.get(d, {}).get("state"), "events": counts.get((site.site, d), {})}
            for d in expected
        },
        "dead_letters": dead.total,
        "shots_in_truth": len(truth["shots"]),
        "shots_located": [
            {
                "x_m": s.x_m,
                "y_m": s.y_m,
                "radius_95_m": s.radius_95_m,
                "truth": s.truth,
                "error_m": s.error_m,
            }
            for s in located
        ],
        "database": str(db_path),
    }
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


@click.command("demo")
@click.option(
    "--duration",
    type=click.FloatRange(min=18.0),
    default=None,
    help="Run this many seconds (the story is compressed to fit), print the summary and exit. "
    "Default: the whole scenario (about 3 minutes), then keep serving the API until Ctrl-C.",
)
@click.option("--listen", default="127.0.0.1:8080", show_default=True, help="Where the API listens.")
@click.option(
    "--devices", type=click.IntRange(min=1), default=None, help="Default: every device of the plan."
)
def demo_command(duration: float | None, listen: str, devices: int | None) -> None:
    """Play the protest-and-attack scenario through the real edge agents and aggregator."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    console = Console(highlight=False)
    run_dir = _run_dir()
    db_path = run_dir / "aggregator.db"
    story_s = None if duration is None else duration * STORY_SHARE
    scenario = Scenario.shared(duration_s=story_s)
    site = scenario.site
    start = datetime.now(UTC)
    truth = scenario.ground_truth(start)
    scenario.write_ground_truth(run_dir / "ground_truth.json", start)

    service = _start_aggregator(db_path, listen, console, site)
    console.print(f"broker: {service.broker_url}")
    console.print(f"api: {service.api_url}  (events: {service.api_url}/api/v1/events)")
    console.print(f"dashboard: {service.api_url}/  (sign in with an API key)")
    if service.bootstrap_admin_key is not None:
        console.print(f"admin key: {service.bootstrap_admin_key}  (Authorization: Bearer KEY)")
    configs = simulated_configs(
        site,
        devices or len(site.devices),
        BrokerAddress.parse(service.broker_url),
        run_dir / "outboxes",
        start=start,
        scenario_s=story_s,
    )
    console.print(
        f"scenario: {scenario.timeline.name}, {scenario.duration_s:.0f} s, "
        f"{len(configs)} devices on site {site.site!r}; run folder {run_dir}"
    )
    simulation = Simulation(configs, start)
    interrupted = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal interrupted
        interrupted = True
        simulation.request_stop()

    previous = signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        simulation.start(duration)
        began = time.monotonic()
        next_line = 0.0
        while simulation.running:
            elapsed = time.monotonic() - began
            if elapsed >= next_line:
                console.print(_progress_line(service, elapsed, duration))
                next_line += PROGRESS_EVERY_S
            time.sleep(0.2)
        simulation.join()
        time.sleep(SETTLE_S)
        summary = _summary(console, service.store, site, truth, run_dir, db_path)
        summary.update(_alerts_summary(console, service))
        (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        if duration is None and not interrupted:
            console.print(f"the scenario is over; the API stays up at {service.api_url} (Ctrl-C to stop)")
            while not interrupted:
                time.sleep(0.5)
    finally:
        signal.signal(signal.SIGINT, previous)
        service.stop()
    sys.exit(0)
