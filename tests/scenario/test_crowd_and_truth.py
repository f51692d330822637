"""The crowd gathers, then flees the shots; the ground truth states what happened and when."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from impetus.scenario import Scenario


def second(truth: dict, t: float) -> dict:
    return truth["crowd"][int(t)]


def test_the_gathering_zone_fills_then_empties_after_the_shots(scenario: Scenario) -> None:
    truth = scenario.ground_truth()
    shot = scenario.shot_times[0]
    counts = [s["zones"]["gathering"]["count"] for s in truth["crowd"]]
    peak_at = max(range(len(counts)), key=counts.__getitem__)
    assert counts[0] < 100 < 800 < counts[peak_at]
    assert peak_at <= shot + 1
    assert counts[-1] < counts[peak_at] / 4


def test_the_protest_reaches_levels_of_service_e_or_f(scenario: Scenario) -> None:
    truth = scenario.ground_truth()
    before = second(truth, scenario.shot_times[0] - 0.5)
    assert before["zones"]["gathering"]["level_of_service"] in ("E", "F")
    assert before["peak_level_of_service"] == "F"
    assert before["zones"]["gathering"]["density"] == pytest.approx(
        before["zones"]["gathering"]["count"] / 660.0, rel=1e-3
    )


def test_people_run_faster_and_together_after_the_shots(scenario: Scenario) -> None:
    truth = scenario.ground_truth()
    shot = scenario.shot_times[0]
    calm = second(truth, shot - 1)
    flight = second(truth, shot + 3)
    assert calm["mean_speed_mps"] < 1.0
    assert 3.0 <= flight["mean_speed_mps"] <= 6.0
    assert truth["dispersal_start_s"] > shot


def test_ground_truth_lists_every_shot_with_position_time_and_arrivals(scenario: Scenario) -> None:
    truth = scenario.ground_truth()
    attack = scenario.timeline.attack
    assert [s["t_s"] for s in truth["shots"]] == pytest.approx(scenario.shot_times)
    assert 3 <= len(truth["shots"]) <= 5
    gaps = [b - a for a, b in zip(scenario.shot_times, scenario.shot_times[1:], strict=False)]
    assert all(0.2 <= g <= 0.6 for g in gaps)
    for shot in truth["shots"]:
        assert (shot["x_m"], shot["y_m"]) == (attack.position.x_m, attack.position.y_m)
        assert len(shot["arrival_s"]) == 7
        assert min(shot["arrival_s"].values()) > shot["t_s"]


def test_hard_negatives_are_marked_and_come_before_the_attack(scenario: Scenario) -> None:
    truth = scenario.ground_truth()
    kinds = {n["kind"] for n in truth["hard_negatives"]}
    assert {"door_slam", "clap", "firecracker"} <= kinds
    assert all(n["t_s"] < truth["shots"][0]["t_s"] for n in truth["hard_negatives"])


def test_the_bag_is_left_behind_and_the_car_enters_the_pedestrian_zone(scenario: Scenario) -> None:
    truth = scenario.ground_truth()
    bag = truth["bag"]
    assert bag["class_name"] == "backpack"
    assert bag["drop_s"] < bag["owner_leaves_s"] < bag["owner_gone_s"]
    assert bag["owner_leaves_s"] < scenario.duration_s
    owner = scenario.owner
    assert owner is not None
    at_leave = owner.position(bag["owner_leaves_s"])
    assert at_leave is not None
    assert ((at_leave[0] - bag["x_m"]) ** 2 + (at_leave[1] - bag["y_m"]) ** 2) ** 0.5 == pytest.approx(
        10.0, abs=0.01
    )
    vehicle = truth["vehicle"]
    assert vehicle["zone"] == "piazza-east"
    assert scenario.site.zone_at(vehicle["x_m"], vehicle["y_m"] + 0.1) == "piazza-east"
    assert scenario.site.zone_at(vehicle["x_m"], vehicle["y_m"] - 0.2) == "road"


def test_times_carry_the_utc_anchor_of_the_run(scenario: Scenario, tmp_path) -> None:
    start = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)
    path = scenario.write_ground_truth(tmp_path / "truth.json", start=start)
    truth = json.loads(path.read_text(encoding="utf-8"))
    assert truth["start_utc"] == "2026-05-04T09:30:00.000000Z"
    shot = truth["shots"][0]
    stamped = datetime.strptime(shot["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert stamped - start == pytest.approx(timedelta(seconds=shot["t_s"]), abs=timedelta(microseconds=1))
