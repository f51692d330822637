"""`impetus edge profiles | provision | bundle | doctor`: the field technician's commands."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from impetus.configfile import ConfigError

DEFAULT_CONFIG = Path("/etc/impetus/device.toml")


@click.command("profiles")
def profiles_command() -> None:
    """List the firmware profiles with a short summary; a broken profile is named with its error."""
    from impetus.edge_agent.config import known_profiles, load_profile

    failed = False
    for name in known_profiles():
        try:
            profile = load_profile(name, require_detectors=False)
        except ConfigError as error:
            click.echo(click.style(f"{name}: INVALID\n{error}", fg="red"))
            failed = True
            continue
        settings = profile.settings
        camera = (
            f"{settings.camera.backend} {settings.camera.width}x{settings.camera.height}"
            if settings.camera
            else "none"
        )
        mic = f"{settings.microphone.sample_rate} Hz" if settings.microphone else "none"
        click.echo(
            f"{name:18} {settings.board}\n"
            f"{'':18} detectors: {', '.join(settings.detectors) or 'none'}; "
            f"providers: {', '.join(settings.execution_providers)}\n"
            f"{'':18} camera: {camera}; microphone: {mic}; gpio: {settings.gpio.summary()}"
        )
    if failed:
        sys.exit(1)


def _token(token: str | None, token_file: Path | None) -> str:
    if token_file is not None:
        token = token_file.read_text(encoding="utf-8").strip()
    if not token:
        raise click.UsageError("give the enrolment token with --token or --token-file")
    return token


@click.command("provision")
@click.option("--profile", required=True, help="Firmware profile (see `impetus edge profiles`).")
@click.option("--site", required=True)
@click.option("--token", default=None, help="One-time token from `impetus aggregator token`.")
@click.option("--token-file", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None)
@click.option("--aggregator", "aggregator_url", default=None, help="http://HOST:PORT; default: discovered.")
@click.option("--broker", "broker_url", default=None, help="Override the broker URL the aggregator gives.")
@click.option(
    "--discover-interface",
    "discover_interfaces",
    multiple=True,
    metavar="IPV4",
    help="Look for the aggregator only through this address of this board (repeatable); default: all.",
)
@click.option("--device-id", default=None, help="Default: the host name.")
@click.option(
    "--sources",
    "sources_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="TOML with [[sources]] tables instead of the profile's camera and microphone.",
)
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("/"),
    show_default=True,
    help="Write /etc and /var under this folder (tests, an SD card's mounted root).",
)
@click.option("--no-self-test", is_flag=True, help="Skip the doctor after enrolment.")
def provision_command(
    profile: str,
    site: str,
    token: str | None,
    token_file: Path | None,
    aggregator_url: str | None,
    broker_url: str | None,
    discover_interfaces: tuple[str, ...],
    device_id: str | None,
    sources_file: Path | None,
    root: Path,
    no_self_test: bool,
) -> None:
    """Generate the device key, enrol with the token, write config and service, run the self-test."""
    from impetus.edge_agent.discovery import NotDiscovered, discover
    from impetus.edge_agent.doctor import exit_code, render
    from impetus.edge_agent.provision import ProvisionError, provision, read_sources_file

    secret = _token(token, token_file)
    discovered_broker = None
    try:
        if aggregator_url is None:
            found = discover(site, interfaces=list(discover_interfaces) or None)
            aggregator_url, discovered_broker = found.api_url, found.broker_url
            click.echo(f"discovered aggregator {aggregator_url}, broker {found.broker_url or '-'}")
        sources = read_sources_file(sources_file) if sources_file else None
        result = provision(
            profile=profile,
            site=site,
            token=secret,
            aggregator_url=aggregator_url,
            root=root,
            device_id=device_id,
            broker_url=broker_url,
            discovered_broker_url=discovered_broker,
            sources=sources,
            self_test=not no_self_test,
        )
    except (ProvisionError, NotDiscovered, ConfigError) as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"enrolled {result.site}/{result.device_id}; broker {result.broker_url}")
    click.echo(f"device file: {result.device_file}")
    click.echo(f"service: {result.unit_file}")
    if result.checks:
        click.echo(render(result.checks, colour=sys.stdout.isatty()))
        sys.exit(exit_code(result.checks))


@click.command("bundle")
@click.option("--profile", required=True)
@click.option("--site", required=True)
@click.option("--token", required=True)
@click.option("--device-id", required=True, help="Also the board's host name.")
@click.option("--aggregator", "aggregator_url", default=None, help="http://HOST:PORT; default: discovered.")
@click.option("--package", default="impetus", show_default=True, help="pip requirement to install.")
@click.option("--wifi-ssid", default=None)
@click.option("--wifi-password", default=None)
@click.option("--wifi-country", default="IT", show_default=True)
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
def bundle_command(
    profile: str,
    site: str,
    token: str,
    device_id: str,
    aggregator_url: str | None,
    package: str,
    wifi_ssid: str | None,
    wifi_password: str | None,
    wifi_country: str,
    out: Path,
) -> None:
    """Write cloud-init user-data, network-config and meta-data into OUT (the SD card's boot partition)."""
    from impetus.edge_agent.bundle import Wifi, write_bundle
    from impetus.protocol.topics import TopicError

    if (wifi_ssid is None) != (wifi_password is None):
        raise click.UsageError("give both --wifi-ssid and --wifi-password, or neither")
    wifi = Wifi(wifi_ssid, wifi_password, wifi_country) if wifi_ssid and wifi_password else None
    try:
        written = write_bundle(
            out,
            profile=profile,
            site=site,
            token=token,
            device_id=device_id,
            aggregator_url=aggregator_url,
            package=package,
            wifi=wifi,
        )
    except (ConfigError, TopicError) as error:
        raise click.ClickException(str(error)) from None
    for path in written:
        click.echo(str(path))


@click.command("doctor")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_CONFIG,
    show_default=True,
)
@click.option("--no-broker", is_flag=True, help="Skip the broker round trip.")
def doctor_command(config_path: Path, no_broker: bool) -> None:
    """A pass/fail sheet: sources, models, broker, clock, disk, temperature. Exit 1 on a failure."""
    from impetus.edge_agent.config import load_agent_config
    from impetus.edge_agent.doctor import exit_code, render, run_doctor

    try:
        config = load_agent_config(config_path)
    except ConfigError as error:
        click.echo(click.style("FAIL", fg="red", bold=True) + f"  config  {error}")
        sys.exit(1)
    checks = run_doctor(config, broker=not no_broker)
    click.echo(render(checks, colour=sys.stdout.isatty()))
    sys.exit(exit_code(checks))


@click.command("rotate-credentials")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=DEFAULT_CONFIG,
    show_default=True,
)
@click.option("--new-key", is_flag=True, help="Also replace the signing key (the old one signs the request).")
def rotate_command(config_path: Path, new_key: bool) -> None:
    """New MQTT password (and signing key) from the aggregator, proven by the current key."""
    from impetus.edge_agent.provision import ProvisionError
    from impetus.edge_agent.rotation import rotate_credentials

    try:
        username = rotate_credentials(config_path, new_key=new_key)
    except (ProvisionError, ConfigError) as error:
        raise click.ClickException(str(error)) from None
    what = "password and signing key" if new_key else "password"
    click.echo(f"rotated the {what} of {username}; restart the agent: systemctl restart impetus-edge")


COMMANDS = (profiles_command, provision_command, bundle_command, doctor_command, rotate_command)
