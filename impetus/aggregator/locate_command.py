"""`impetus aggregator locate FILE.json`: the correlator's solver, for analysts re-examining a shot.

Reads `{"sensors": [{"id", "x", "y", "t"}...], "temperature_c": 15}` (metres in a local frame,
arrival times in seconds; `-` reads standard input) and prints one JSON object with the position,
its 90 % radius, the sensors used and those rejected (an echo, an inconsistent clock) with why.
Fewer than three usable sensors is an error with a non-zero exit, never a guessed position.
"""

from __future__ import annotations

import json
import math
from typing import Any

import click

from impetus.aggregator.localisation import CannotLocalise, locate_request


def _finite(value: Any) -> Any:
    """JSON has no Infinity or NaN: an unbounded figure is written as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


@click.command("locate")
@click.argument("file", type=click.File("r"))
def locate_command(file: click.utils.LazyFile) -> None:
    """Locate a shot from sensor positions and arrival times in FILE.json (`-`: standard input)."""
    try:
        data = json.load(file)
    except json.JSONDecodeError as error:
        raise click.ClickException(
            f"{file.name}: not JSON ({error.msg} at line {error.lineno} column {error.colno}); expected "
            '{"sensors": [{"id": "a", "x": 0.0, "y": 0.0, "t": 12.3456789}, ...], "temperature_c": 15}'
        ) from None
    try:
        answer = locate_request(data)
    except CannotLocalise as error:
        raise click.ClickException(f"{file.name}: {error}") from None
    click.echo(json.dumps(_finite(answer), allow_nan=False))
