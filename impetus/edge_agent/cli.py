"""`impetus edge ...`: run an agent, send a test event, simulate a site full of devices."""

from __future__ import annotations

import logging
import signal
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import click

from impetus.configfile import ConfigError
from impetus.edge_agent.broker import BrokerAddress, BrokerAddressError
from impetus.edge_agent.inference import ModelFileError
from impetus.protocol import EVENT_TYPES
from impetus.protocol.topics import TopicError, check_name


def _broker(url: str) -> BrokerAddress:
    try:
        return BrokerAddress.parse(url)
    except BrokerAddressError as error:
        raise click.BadParameter(str(error), param_hint="--broker") from None


def _name(kind: str, value: str) -> str:
    try:
        return check_name(kind, value)
    except TopicError as error:
        raise click.BadParameter(str(error), param_hint=f"--{kind.replace('_', '-')}") from None


@click.group("edge")
@click.option("--log-level", default="info", type=click.Choice(["debug", "info", "warning", "error"]))
def edge_cli(log_level: str) -> None:
    """The device side: sources, detectors, privacy gate, outbox, publisher."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@edge_cli.command("run")
@click.option(
    "--config", "config_path", required=True, type=click.Path(path_type=Path), help="Device TOML file."
)
@click.option(
    "--duration", type=float, default=None, help="Stop after this many seconds (default: run until stopped)."
)
def run_command(config_path: Path, duration: float | None) -> None:
    """Run one agent from its device file until stopped (SIGTERM/Ctrl-C) or its sources end."""
    from impetus.edge_agent.agent import EdgeAgent
    from impetus.edge_agent.config import load_agent_config

    try:
        agent = EdgeAgent(load_agent_config(config_path))
    except ConfigError as error:
        raise click.ClickException(str(error)) from None

    def request_stop(signum: int, frame: FrameType | None) -> None:
        agent.request_stop()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        agent.start()
    except (FileNotFoundError, ModelFileError, ValueError) as error:
        agent.stop()
        raise click.ClickException(str(error)) from None
    from impetus.edge_agent.controls import start_controls
    from impetus.edge_agent.snapshot_responder import SnapshotResponder

    controls = start_controls(agent)
    snapshots = SnapshotResponder(agent)  # answers (or refuses, per policy) operators' snapshot requests
    snapshots.start()
    agent.serve(duration)
    snapshots.stop()
    if controls is not None:
        controls.stop()
    click.echo(f"stopped; {agent.final_backlog} messages wait in the outbox {agent.config.outbox_path}")


@edge_cli.command("test-event")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="A device file (from `impetus edge provision`): its broker, site, id, and credentials: the "
    "device's account, the site CA for mqtts://, its signing key.",
)
@click.option("--broker", "broker_url", default=None, help="mqtt://HOST:PORT (default: the device file's)")
@click.option("--site", default=None)
@click.option("--device-id", default=None)
@click.option("--type", "event_type", required=True, type=click.Choice(EVENT_TYPES))
@click.option(
    "--timeout", type=float, default=10.0, show_default=True, help="Seconds to wait for the broker."
)
def test_event_command(
    config_path: Path | None,
    broker_url: str | None,
    site: str | None,
    device_id: str | None,
    event_type: str,
    timeout: float,
) -> None:
    """Publish one valid event marked `test: true` and print its event id once the broker has it.

    Give --config for a provisioned device, or --broker, --site and --device-id for an open broker."""
    from impetus.edge_agent.config import load_agent_config
    from impetus.edge_agent.test_event import BrokerUnreachable, send_test_event

    config = None
    if config_path is not None:
        try:
            config = load_agent_config(config_path)
        except ConfigError as error:
            raise click.ClickException(str(error)) from None
    broker = _broker(broker_url) if broker_url else config.broker if config else None
    site = site or (config.site if config else None)
    device_id = device_id or (config.device_id if config else None)
    if broker is None or site is None or device_id is None:
        raise click.UsageError(
            "give --config FILE (a provisioned device) or --broker, --site and --device-id"
        )
    try:
        sent = send_test_event(
            broker,
            _name("site", site),
            _name("device_id", device_id),
            event_type,
            timeout,
            credentials=config.credentials if config else None,
        )
    except BrokerUnreachable as error:
        raise click.ClickException(str(error)) from None
    click.echo(sent.event.event_id)


@edge_cli.command("analyse")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--profile", default="generic-linux", show_default=True, help="Firmware profile name or file.")
@click.option("--site", "site_plan", type=click.Path(path_type=Path), default=None, help="Site plan TOML.")
@click.option("--device-id", default="analyse", show_default=True, help="Placement to take from the plan.")
@click.option(
    "--detector",
    "detector_names",
    multiple=True,
    help="Run this installed detector instead of the profile's list (repeatable), e.g. crowd.",
)
def analyse_command(
    file: Path, profile: str, site_plan: Path | None, device_id: str, detector_names: tuple[str, ...]
) -> None:
    """Run the profile's detectors over a WAV, video, image or image folder, losslessly; print one
    JSON object per event: {"offset_s": seconds from the start of the file, "event": envelope}.
    The crowd detector (`--detector crowd`) needs the camera's ground calibration: from the
    profile's [detectors.crowd] ground, or from its placement on the site plan (--site, --device-id)."""
    import json

    from impetus.edge_agent.analyse import AnalyseError, AnalyseOptions, analyse

    options = AnalyseOptions(
        profile=profile,
        site_plan=site_plan,
        device_id=_name("device_id", device_id),
        detectors=detector_names,
    )
    try:
        for line in analyse(file, options):
            click.echo(json.dumps(line, separators=(",", ":")))
    except AnalyseError as error:
        raise click.ClickException(str(error)) from None


@edge_cli.command("simulate")
@click.option("--broker", "broker_url", required=True, help="mqtt://HOST:PORT")
@click.option("--site", required=True, help="Site id the simulated devices publish under.")
@click.option("--devices", type=click.IntRange(1, 10_000), required=True, help="How many agents.")
@click.option("--duration", type=float, default=None, help="Seconds (default: until the scenario ends).")
@click.option(
    "--realtime/--fast", default=True, show_default=True, help="Pace the scenario to the wall clock."
)
@click.option(
    "--state-dir", type=click.Path(file_okay=False, path_type=Path), default=None, help="Outbox files."
)
@click.option(
    "--scenario-seconds",
    type=click.FloatRange(min=1.0),
    default=None,
    help="Compress the scenario's story to this many seconds (default: its natural length).",
)
def simulate_command(
    broker_url: str,
    site: str,
    devices: int,
    duration: float | None,
    realtime: bool,
    state_dir: Path | None,
    scenario_seconds: float | None,
) -> None:
    """N simulated agents, each the real runtime, on the default scenario's synthetic sensors."""
    from impetus.edge_agent.simulate import default_state_dir, run_simulation, simulated_configs

    try:
        from impetus.scenario import Scenario
    except ImportError as error:
        raise click.ClickException(
            f"the scenario engine (impetus.scenario) cannot be loaded: {error}"
        ) from None
    broker = _broker(broker_url)
    start = datetime.now(UTC)
    state = state_dir or default_state_dir()
    try:
        configs = simulated_configs(
            Scenario.default().site,
            devices,
            broker,
            state,
            site_id=_name("site", site),
            realtime=realtime,
            start=start,
            scenario_s=scenario_seconds,
        )
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    tallies = run_simulation(configs, duration, start)
    for device_id, tally in tallies.items():
        sent = ", ".join(f"{kind}={n}" for kind, n in sorted(tally.sent.items())) or "nothing"
        click.echo(f"{device_id}: sent {sent}; refused {tally.refused}; left in outbox {tally.backlog}")
    click.echo(f"outboxes in {state}")


def _add_technician_commands() -> None:
    from impetus.edge_agent.technician_cli import COMMANDS

    for command in COMMANDS:
        edge_cli.add_command(command)


_add_technician_commands()
