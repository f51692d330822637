"""`impetus aggregator serve` refuses bad options with a message, not a traceback."""

from __future__ import annotations

import socket

import pytest
from click.testing import CliRunner

from impetus.cli import main


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--broker", "tcp://127.0.0.1:1883"], "expected mqtt://HOST:PORT"),
        (["--listen", "8080"], "expected HOST:PORT"),
        (["--listen", "127.0.0.1:http"], "expected HOST:PORT"),
    ],
)
def test_bad_options_are_refused_with_what_was_expected(args, words):
    result = CliRunner().invoke(main, ["aggregator", "serve", *args])
    assert result.exit_code == 2
    assert words in result.output
    assert "Traceback" not in result.output


def test_an_unreachable_broker_is_named_in_the_error(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"mqtt://127.0.0.1:{probe.getsockname()[1]}"  # nothing listens there once closed
    result = CliRunner().invoke(
        main,
        [
            "aggregator",
            "serve",
            "--broker",
            url,
            "--db",
            str(tmp_path / "a.db"),
            "--listen",
            "127.0.0.1:0",
            "--broker-timeout",
            "1",
        ],
    )
    assert result.exit_code == 1
    assert url in result.output
