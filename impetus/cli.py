"""The one console entry point: `impetus <role> <command>`.

Each role's commands live beside its code; they are imported only when used, so `impetus edge`
on a Pi never loads the aggregator's web stack.
"""

from __future__ import annotations

import importlib

import click

from impetus import __version__

ROLES = {
    "protocol": "impetus.protocol.cli:protocol_cli",
    "edge": "impetus.edge_agent.cli:edge_cli",
    "aggregator": "impetus.aggregator.cli:aggregator_cli",
    "demo": "impetus.demo:demo_command",
    "privacy": "impetus.privacy.cli:privacy_cli",
}


class RoleGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(ROLES)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = ROLES.get(cmd_name)
        if target is None:
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)


@click.group(cls=RoleGroup)
@click.version_option(__version__, prog_name="impetus")
def main() -> None:
    """impetus: public-safety detection at the edge, correlated for the SOC."""


if __name__ == "__main__":
    main()
