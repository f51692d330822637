"""`impetus aggregator token | revoke | devices | broker-config`: the device registry from
the SOC's shell, and the options `serve` takes to enforce it."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from impetus.aggregator.broker_config import refresh_access, write_broker_config
from impetus.aggregator.device_registry import DeviceRegistry
from impetus.aggregator.link_security import LinkSecurity
from impetus.protocol.topics import TopicError, check_name

DEFAULT_REGISTRY = Path("var/registry.db")
_DURATION = re.compile(r"^(\d+)\s*([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str) -> timedelta:
    """`90s`, `15m`, `1h`, `7d` -> timedelta."""
    match = _DURATION.match(text.strip())
    if match is None or int(match.group(1)) == 0:
        raise ValueError(f"duration {text!r}: expected a positive number and a unit s, m, h or d (e.g. 1h)")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def _duration(ctx: click.Context, param: click.Parameter, value: str) -> timedelta:
    try:
        return parse_duration(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


def _site(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        return check_name("site", value)
    except TopicError as error:
        raise click.BadParameter(str(error)) from None


registry_option = click.option(
    "--registry",
    "registry_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_REGISTRY,
    show_default=True,
    help="The device registry (SQLite).",
)


@click.command("token")
@click.option("--site", required=True, callback=_site, help="Site the enrolled device will belong to.")
@click.option("--expires", default="1h", show_default=True, callback=_duration, metavar="DURATION")
@registry_option
def token_command(site: str, expires: timedelta, registry_path: Path) -> None:
    """Print a one-time enrolment token for one device of SITE (stored only as a hash)."""
    registry = DeviceRegistry(registry_path)
    try:
        click.echo(registry.issue_token(site, expires))
    finally:
        registry.close()


broker_dir_option = click.option(
    "--broker-dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="The broker-config folder: its password and ACL files are rewritten and mosquitto reloaded.",
)


@click.command("revoke")
@click.argument("device_id")
@registry_option
@broker_dir_option
def revoke_command(device_id: str, registry_path: Path, broker_dir: Path | None) -> None:
    """Refuse DEVICE_ID from now on: its events are dead-lettered, its broker account closed."""
    registry = DeviceRegistry(registry_path)
    try:
        if not registry.revoke(device_id):
            raise click.ClickException(f"device {device_id!r} is not enrolled or is already revoked")
        click.echo(f"revoked {device_id}")
        if broker_dir is not None:
            reloaded = refresh_access(registry, broker_dir)
            state = "reloaded" if reloaded else "not running"
            click.echo(f"broker access files rewritten in {broker_dir}; mosquitto {state}")
    finally:
        registry.close()


@click.command("devices")
@registry_option
def devices_command(registry_path: Path) -> None:
    """List enrolled devices with their state."""
    registry = DeviceRegistry(registry_path)
    try:
        for device in registry.devices():
            state = f"revoked {device.revoked_at}" if device.revoked_at else "active"
            click.echo(f"{device.site}/{device.device_id}\t{device.profile or '-'}\t{state}")
    finally:
        registry.close()


@click.command("broker-config")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--site", default="site", show_default=True, callback=_site, help="Site named in the CA.")
@click.option(
    "--server-name",
    "server_names",
    multiple=True,
    default=("localhost", "127.0.0.1"),
    show_default=True,
    help="Host name or IP devices use to reach the broker (repeatable).",
)
@click.option("--tls-port", type=click.IntRange(1, 65535), default=8883, show_default=True)
@click.option("--local-port", type=click.IntRange(1, 65535), default=1883, show_default=True)
@click.option("--user", "run_as", default="mosquitto", show_default=True, help="Account mosquitto runs as.")
@registry_option
def broker_config_command(
    directory: Path,
    site: str,
    server_names: tuple[str, ...],
    tls_port: int,
    local_port: int,
    run_as: str,
    registry_path: Path,
) -> None:
    """Write mosquitto.conf, password and ACL files, site CA and server certificate into DIRECTORY."""
    registry = DeviceRegistry(registry_path)
    try:
        files = write_broker_config(
            registry,
            directory,
            site=site,
            server_names=list(server_names),
            tls_port=tls_port,
            local_port=local_port,
            run_as=run_as,
        )
    finally:
        registry.close()
    click.echo(f"mosquitto.conf: {files.conf}")
    click.echo(f"password file: {files.password_file}")
    click.echo(f"acl file: {files.acl_file}")
    click.echo(f"site CA: {files.ca_cert}")
    click.echo(f"server certificate: {files.server_cert}")
    click.echo(f"aggregator account: {files.aggregator_secret}")
    click.echo(f"run: mosquitto -c {files.conf}   (after changes: kill -HUP <mosquitto pid>)")


def security_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Adds --registry, --broker-dir, --require-signatures, --broker-secret, --ca-cert, --device-broker
    to `serve`."""
    options = [
        click.option(
            "--device-broker",
            default=None,
            metavar="mqtts://HOST:PORT",
            help="Broker URL handed to devices at enrolment.",
        ),
        click.option(
            "--ca-cert",
            type=click.Path(dir_okay=False, exists=True, path_type=Path),
            default=None,
            help="Site CA certificate handed to devices at enrolment (from broker-config).",
        ),
        click.option(
            "--broker-secret",
            type=click.Path(dir_okay=False, exists=True, path_type=Path),
            default=None,
            help="USERNAME:PASSWORD file of the aggregator's broker account (from broker-config).",
        ),
        click.option(
            "--require-signatures",
            is_flag=True,
            help="Dead-letter unsigned messages and devices not enrolled (default: only enrolled "
            "devices must sign).",
        ),
        registry_option,
        broker_dir_option,
    ]
    for option in options:
        command = option(command)
    return command


def link_security(
    registry_path: Path,
    require_signatures: bool,
    broker_secret: Path | None,
    ca_cert: Path | None,
    device_broker: str | None,
    broker_dir: Path | None,
) -> LinkSecurity:
    return LinkSecurity(registry_path, require_signatures, broker_secret, ca_cert, device_broker, broker_dir)


COMMANDS = (token_command, revoke_command, devices_command, broker_config_command)
