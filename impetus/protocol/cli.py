"""`impetus protocol ...`: the wire contract from the command line."""

from __future__ import annotations

from pathlib import Path

import click

from impetus.protocol.schema_export import write_schemas


@click.group("protocol")
def protocol_cli() -> None:
    """The wire contract: topics, envelopes, JSON Schemas."""


@protocol_cli.command("schema")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def schema_command(directory: Path) -> None:
    """Write one JSON Schema file per message type into DIRECTORY."""
    for path in write_schemas(directory):
        click.echo(str(path))
