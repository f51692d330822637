"""Cutting gunshot reports into physical shots before they are located.

Arrival times come from the geometry of the test site (six microphones over 100 x 60 m), so each
report is labelled with the shot it truly belongs to (`event_id` = "shot<k>-<device>").
"""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
from six_microphones import MICROPHONES, T0, six_microphone_site

from impetus.aggregator.localisation import SOURCE_HEIGHT_M, Localisation, ShotReport, localise_on_site
from impetus.aggregator.shot_matching import group_reports
from impetus.protocol.site import speed_of_sound

SITE = six_microphone_site(temperature_c=8.0)
C = speed_of_sound(SITE.temperature_c)


def arrival_s(device_id: str, source: tuple[float, float]) -> float:
    placement = SITE.device(device_id)
    dz = placement.height_m - SOURCE_HEIGHT_M
    return math.hypot(placement.position.x_m - source[0], placement.position.y_m - source[1], dz) / C


def heard(
    shots: list[tuple[float, tuple[float, float]]],
    *,
    missed: set[tuple[int, str]] = frozenset(),  # type: ignore[assignment]
    noise_s: float = 1e-4,
    seed: int = 0,
) -> list[ShotReport]:
    """Reports of shots fired at (seconds after T0, source), shuffled as they arrive from the broker."""
    rng = np.random.default_rng(seed)
    made = []
    for k, (fired_s, source) in enumerate(shots):
        for device_id in MICROPHONES:
            if (k, device_id) in missed:
                continue
            placement = SITE.device(device_id)
            onset_s = fired_s + arrival_s(device_id, source) + rng.normal(0.0, noise_s)
            made.append(
                ShotReport(
                    device_id,
                    x_m=placement.position.x_m,
                    y_m=placement.position.y_m,
                    height_m=placement.height_m,
                    onset=T0 + timedelta(seconds=onset_s),
                    timing_sigma_s=2e-4,
                    event_id=f"shot{k}-{device_id}",
                    burst_id=f"b-{device_id}",
                    shot_index=k,
                )
            )
    rng.shuffle(made)  # type: ignore[arg-type]
    return made


def shot_of(report: ShotReport) -> str:
    return (report.event_id or "").split("-")[0]


def assert_one_shot_per_group_one_report_per_device(groups: list[list[ShotReport]]) -> None:
    for group in groups:
        devices = [r.device_id for r in group]
        assert len(devices) == len(set(devices)), f"a device twice in one group: {devices}"
        assert len({shot_of(r) for r in group}) == 1, f"two shots mixed: {[r.event_id for r in group]}"


def test_a_burst_of_three_shots_a_third_of_a_second_apart_gives_three_groups_of_every_device() -> None:
    source = (88.0, 8.0)
    groups = group_reports(heard([(0.0, source), (0.3, source), (0.6, source)]), SITE)
    assert [len(g) for g in groups] == [6, 6, 6]
    assert [shot_of(g[0]) for g in groups] == ["shot0", "shot1", "shot2"]
    assert_one_shot_per_group_one_report_per_device(groups)


def test_a_rapid_burst_with_missed_detections_still_keeps_each_shot_apart() -> None:
    source = (10.0, 50.0)
    shots = [(0.12 * k, source) for k in range(5)]
    missed = {(0, "mic-se"), (4, "mic-ne"), (2, "mic-s")}
    groups = group_reports(heard(shots, missed=missed, seed=4), SITE)
    assert sorted(len(g) for g in groups) == [5, 5, 5, 6, 6]
    assert [shot_of(g[0]) for g in groups] == [f"shot{k}" for k in range(5)]
    assert_one_shot_per_group_one_report_per_device(groups)


def test_reports_further_apart_than_sound_can_travel_between_their_microphones_are_not_merged() -> None:
    west, east = SITE.device("mic-sw"), SITE.device("mic-se")
    distance = math.hypot(east.position.x_m - west.position.x_m, east.position.y_m - west.position.y_m)
    first = ShotReport("mic-sw", x_m=west.position.x_m, y_m=west.position.y_m, onset=T0, timing_sigma_s=2e-4)
    late = T0 + timedelta(seconds=distance / C + 0.05)
    second = ShotReport(
        "mic-se", x_m=east.position.x_m, y_m=east.position.y_m, onset=late, timing_sigma_s=2e-4
    )
    assert group_reports([first, second], SITE) == [[first], [second]]
    just_within = T0 + timedelta(seconds=distance / C * 0.98)
    third = ShotReport("mic-se", x_m=east.position.x_m, y_m=east.position.y_m, onset=just_within)
    assert group_reports([first, third], SITE) == [[first, third]]


def test_a_device_that_also_reported_the_echo_keeps_its_direct_sound_in_the_shot() -> None:
    made = heard([(0.0, (40.0, 30.0))], noise_s=0.0)
    direct = next(r for r in made if r.device_id == "mic-n")
    echo = ShotReport(
        "mic-n",
        x_m=direct.x_m,
        y_m=direct.y_m,
        height_m=direct.height_m,
        onset=direct.onset + timedelta(milliseconds=18),  # type: ignore[operator]
        event_id="echo-mic-n",
    )
    groups = group_reports([*made, echo], SITE)
    assert [len(g) for g in groups] == [6, 1]
    assert direct in groups[0] and groups[1] == [echo]


def test_grouped_shots_of_two_shooters_seconds_apart_are_each_located() -> None:
    shots = [(0.0, (20.0, 15.0)), (0.4, (20.0, 15.0)), (3.0, (75.0, 45.0)), (3.25, (75.0, 45.0))]
    groups = group_reports(heard(shots, seed=9), SITE)
    assert [shot_of(g[0]) for g in groups] == ["shot0", "shot1", "shot2", "shot3"]
    for group, (_, source) in zip(groups, shots, strict=True):
        result = localise_on_site(group, SITE)
        assert isinstance(result, Localisation)
        assert math.hypot(result.position[0] - source[0], result.position[1] - source[1]) < 0.5


def test_no_reports_give_no_groups() -> None:
    assert group_reports([], SITE) == []
