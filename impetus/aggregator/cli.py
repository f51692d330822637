"""`impetus aggregator ...`: run the SOC side."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from types import FrameType

import click

from impetus.aggregator.advertise import Advertising
from impetus.aggregator.broker import BrokerUrlError, parse_broker_url
from impetus.aggregator.locate_command import locate_command
from impetus.aggregator.operator_cli import operator_options, pop_operator_options, user_cli
from impetus.aggregator.security_cli import COMMANDS as SECURITY_COMMANDS
from impetus.aggregator.security_cli import link_security, security_options
from impetus.aggregator.service import DEFAULT_DB_PATH, DEFAULT_LISTEN, AggregatorService, parse_listen


@click.group("aggregator")
def aggregator_cli() -> None:
    """The aggregator: broker, ingest, store and API for the SOC."""


aggregator_cli.add_command(locate_command)


def _broker_url(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None:
        try:
            parse_broker_url(value)
        except BrokerUrlError as error:
            raise click.BadParameter(str(error)) from None
    return value


def _listen(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        parse_listen(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    return value


@aggregator_cli.command("serve")
@click.option(
    "--broker",
    callback=_broker_url,
    metavar="mqtt://HOST:PORT",
    help="An external MQTT broker; without it an embedded broker listens on loopback.",
)
@click.option(
    "--embedded-port",
    type=click.IntRange(0, 65535),
    default=1883,
    show_default=True,
    help="Port of the embedded broker on 127.0.0.1 (0: any free port); ignored with --broker.",
)
@click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_DB_PATH,
    show_default=True,
    help="SQLite file (created with its folder if missing).",
)
@click.option(
    "--listen",
    default=DEFAULT_LISTEN,
    show_default=True,
    callback=_listen,
    metavar="HOST:PORT",
    help="Where the API listens; port 0 picks a free one.",
)
@click.option(
    "--broker-timeout",
    type=click.FloatRange(min=0.1),
    default=15.0,
    show_default=True,
    metavar="SECONDS",
    help="How long to wait at start for the broker (it may be starting too).",
)
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info")
@click.option(
    "--advertise/--no-advertise",
    default=True,
    show_default=True,
    help="Announce the API and the device broker with zeroconf (_impetus._tcp, _mqtt._tcp), so "
    "`impetus edge provision` finds them without --aggregator.",
)
@click.option(
    "--advertise-interface",
    "advertise_interfaces",
    multiple=True,
    metavar="IPV4",
    help="Advertise only on this address of this machine (repeatable); default: every address "
    "the API listens on.",
)
@security_options
@operator_options
def serve_command(
    broker: str | None,
    embedded_port: int,
    db: Path,
    listen: str,
    broker_timeout: float,
    log_level: str,
    advertise: bool,
    advertise_interfaces: tuple[str, ...],
    **security: object,
) -> None:
    """Run until SIGINT or SIGTERM. Once ready it prints `broker: URL` and `api: URL`."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("amqtt", "transitions"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    operator = pop_operator_options(security)
    service = AggregatorService(
        broker,
        db,
        listen,
        embedded_port=embedded_port,
        security=link_security(**security),  # type: ignore[arg-type]
        operator=operator,
        advertise=Advertising(
            site=operator.site.site if operator.site is not None else None,
            interfaces=list(advertise_interfaces) or None,
        )
        if advertise
        else None,
    )
    try:
        service.start(timeout=broker_timeout)
    except Exception as error:
        raise click.ClickException(str(error)) from None
    try:
        click.echo(f"broker: {service.broker_url}")
        click.echo(f"api: {service.api_url}")
        click.echo(f"dashboard: {service.api_url}/")
        if service.advertiser is not None:
            click.echo(f"advertised on: {', '.join(service.advertiser.addresses)} (zeroconf)")
        if service.bootstrap_admin_key is not None:
            click.echo(f"admin key: {service.bootstrap_admin_key}  (user admin; shown once, keep it)")
        stop.wait()
    finally:
        service.stop()


for _command in SECURITY_COMMANDS:
    aggregator_cli.add_command(_command)
aggregator_cli.add_command(user_cli)
