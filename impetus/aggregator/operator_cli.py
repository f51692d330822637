"""The operator side's command line: `serve` options (rules, site plan, webhooks, admin key) and
`impetus aggregator user add|list|remove`.

    impetus aggregator user add alice --role operator     # prints alice's API key, once
    curl -H "Authorization: Bearer $KEY" http://127.0.0.1:8080/api/v1/alerts
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from impetus.aggregator.alert_rules import load_rules
from impetus.aggregator.alerts_store import ROLES, AlertStore
from impetus.aggregator.service import DEFAULT_DB_PATH
from impetus.aggregator.soc import SocConfig
from impetus.aggregator.webhooks import Webhook
from impetus.configfile import ConfigError, load_toml_model
from impetus.protocol.site import SiteDescription

F = TypeVar("F", bound=Callable[..., Any])
_OPTION_NAMES = ("rules", "site_plan", "sop_dir", "webhook", "cap_webhook", "admin_key")


def operator_options(command: F) -> F:
    """The `serve` options of the operator side; read them back with `pop_operator_options`."""
    for option in reversed(
        [
            click.option(
                "--rules",
                type=click.Path(dir_okay=False, exists=True, path_type=Path),
                default=None,
                help="Correlation rules (TOML); default: the shipped rules/default.toml.",
            ),
            click.option(
                "--site-plan",
                type=click.Path(dir_okay=False, exists=True, path_type=Path),
                default=None,
                help="Site description (TOML): gunshot localisation, distances, the dashboard's plan.",
            ),
            click.option(
                "--sop-dir",
                type=click.Path(file_okay=False, exists=True, path_type=Path),
                default=None,
                help="Folder of a city's own checklists (<alert type>.toml with `steps = [...]`); "
                "types without a file keep the shipped ones.",
            ),
            click.option("--webhook", multiple=True, metavar="URL", help="POST every alert change as JSON."),
            click.option(
                "--cap-webhook", multiple=True, metavar="URL", help="POST every alert change as CAP 1.2 XML."
            ),
            click.option(
                "--admin-key",
                envvar="IMPETUS_ADMIN_KEY",
                default=None,
                metavar="KEY",
                help="API key of user `admin` (env IMPETUS_ADMIN_KEY). Without it, a first start "
                "creates `admin` with a new key and prints it once.",
            ),
        ]
    ):
        command = option(command)
    return command


def pop_operator_options(options: dict[str, Any]) -> SocConfig:
    """Take the operator options out of `serve`'s keyword arguments, checked and loaded."""
    values = {name: options.pop(name) for name in _OPTION_NAMES}
    try:
        rules = load_rules(values["rules"]) if values["rules"] is not None else None
        site = load_toml_model(values["site_plan"], SiteDescription) if values["site_plan"] else None
        hooks = [Webhook(url, "json") for url in values["webhook"]]
        hooks += [Webhook(url, "cap") for url in values["cap_webhook"]]
    except (ConfigError, ValueError) as error:
        raise click.BadParameter(str(error)) from None
    return SocConfig(
        rules=rules, site=site, webhooks=hooks, admin_key=values["admin_key"], sop_dir=values["sop_dir"]
    )


_db_option = click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_DB_PATH,
    show_default=True,
    help="The aggregator's SQLite file (the one `serve --db` uses).",
)


@click.group("user")
def user_cli() -> None:
    """API users of the SOC: operators, technicians, privacy officers, admins."""


@user_cli.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True)
@_db_option
def user_add(name: str, role: str, db: Path) -> None:
    """Create NAME (or give them a new key) and print the API key; it is stored only hashed."""
    if not name.strip() or len(name) > 100:
        raise click.BadParameter("expected a name of 1 to 100 characters", param_hint="NAME")
    alerts = AlertStore(db)
    try:
        click.echo(alerts.add_user(name, role))
    finally:
        alerts.close()


@user_cli.command("list")
@_db_option
def user_list(db: Path) -> None:
    alerts = AlertStore(db)
    try:
        for user in alerts.users():
            click.echo(f"{user.name}\t{user.role}")
    finally:
        alerts.close()


@user_cli.command("remove")
@click.argument("name")
@_db_option
def user_remove(name: str, db: Path) -> None:
    """Remove NAME: their key stops working at once."""
    alerts = AlertStore(db)
    try:
        if not alerts.remove_user(name):
            raise click.ClickException(f"no user {name!r} in {db}")
    finally:
        alerts.close()
