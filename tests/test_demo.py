"""`impetus demo --duration 20`, as a newcomer runs it: the whole scenario through real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from impetus.scenario import Scenario

pytestmark = pytest.mark.slow


def test_demo_runs_the_scenario_end_to_end_and_summarises_every_device(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    run = subprocess.run(
        [sys.executable, "-m", "impetus.cli", "demo", "--duration", "20", "--listen", "127.0.0.1:0"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    plan = Scenario.default().site
    for placement in plan.devices:
        assert placement.device_id in run.stdout
    assert "broker: mqtt://127.0.0.1:" in run.stdout
    assert "api: http://127.0.0.1:" in run.stdout

    (run_dir,) = (tmp_path / "var" / "demo").iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert set(summary["devices"]) == {p.device_id for p in plan.devices}
    assert all(d["state"] == "offline" for d in summary["devices"].values()), "agents said goodbye"
    assert summary["dead_letters"] == 0
    heard = [d for d in summary["devices"].values() if d["events"].get("gunshot")]
    assert len(heard) >= 3, "the shots were heard by at least three microphones"
    true_shots = [s for s in summary["shots_located"] if s["truth"].startswith("shot")]
    assert true_shots, "at least one real shot was located"
    assert all(s["error_m"] < 3.0 for s in true_shots)
    assert 0 < summary["alerts_out"] <= summary["events_in"] / 10, "few alerts, not one per event"
    gunshots = [a for a in summary["alerts"] if a["type"] == "gunshot"]
    assert gunshots and max(a["corroborating_devices"] for a in gunshots) >= 3
    assert (run_dir / "ground_truth.json").is_file()
    assert (run_dir / "aggregator.db").is_file()
