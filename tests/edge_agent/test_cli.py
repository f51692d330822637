"""`impetus edge test-event` and `impetus edge run`, driven as a technician would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from edge_fixtures import Collector, free_port

from impetus.cli import main
from impetus.protocol import EVENT_TYPES

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("event_type", ["gunshot", "crowd", "left_object"])
def test_test_event_arrives_valid_and_marked_as_a_test(
    mosquitto, collector: Collector, event_type: str
) -> None:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(
        main,
        [
            "edge",
            "test-event",
            "--broker",
            mosquitto.url,
            "--site",
            "piazza",
            "--device-id",
            "pole-1",
            "--type",
            event_type,
        ],
    )
    assert result.exit_code == 0, result.output
    event_id = result.output.strip().splitlines()[-1]
    events = collector.wait_for(lambda ev: any(e.event_id == event_id for e in ev), timeout=10)
    (event,) = [e for e in events if e.event_id == event_id]
    assert event.test is True
    assert (event.type, event.site, event.device_id) == (event_type, "piazza", "pole-1")  # type: ignore[attr-defined]
    assert event.privacy.policy_id == "counting-only"


def test_every_event_type_has_a_test_event() -> None:
    from impetus.edge_agent.test_event import build_test_event

    assert [build_test_event("piazza", "pole-1", t).type for t in EVENT_TYPES] == list(EVENT_TYPES)  # type: ignore[attr-defined]


def test_test_event_against_an_unreachable_broker_fails_clearly() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from impetus.cli import main; main()",
            "edge",
            "test-event",
            "--broker",
            f"mqtt://127.0.0.1:{free_port()}",
            "--site",
            "piazza",
            "--device-id",
            "pole-1",
            "--type",
            "tamper",
            "--timeout",
            "3",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert done.returncode != 0
    assert "cannot reach the broker at mqtt://127.0.0.1:" in done.stderr
    assert "Traceback" not in done.stderr
