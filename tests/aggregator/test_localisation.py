"""Gunshot localisation by time difference of arrival, as the correlator and analysts rely on it.

The site is a 100 x 60 m square with six microphones on 4 m poles; arrival times are computed
here from the geometry (straight-line travel at the speed of sound of the site's temperature),
independently of the solver.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from six_microphones import MICROPHONES, T0, six_microphone_site

from impetus.aggregator.localisation import (
    SOURCE_HEIGHT_M,
    CannotLocalise,
    Localisation,
    LocalisationInputError,
    ShotReport,
    Unlocalised,
    localise,
    localise_on_site,
    locate_request,
    report_from_event,
    timing_sigma_s,
)
from impetus.aggregator.tdoa_solver import chi2_sf, circular_radius
from impetus.protocol import ClockQuality, PrivacyStamp, make_event
from impetus.protocol.envelope import GunshotEvent
from impetus.protocol.site import speed_of_sound

SITE = six_microphone_site(temperature_c=22.0)
C = speed_of_sound(SITE.temperature_c)


def arrival_s(device_id: str, source: tuple[float, float]) -> float:
    placement = SITE.device(device_id)
    dx = placement.position.x_m - source[0]
    dy = placement.position.y_m - source[1]
    dz = placement.height_m - SOURCE_HEIGHT_M
    return math.sqrt(dx * dx + dy * dy + dz * dz) / C


def reports(
    source: tuple[float, float],
    devices: list[str] | None = None,
    *,
    noise_s: float = 0.0,
    sigma_s: float = 2e-4,
    delays: dict[str, float] | None = None,
    rng: np.random.Generator | None = None,
) -> list[ShotReport]:
    """What the microphones would report for a shot at `source` fired at T0 + 10 s (float seconds)."""
    made = []
    for device_id in devices or list(MICROPHONES):
        placement = SITE.device(device_id)
        jitter = rng.normal(0.0, noise_s) if rng is not None else 0.0
        onset = 10.0 + arrival_s(device_id, source) + jitter + (delays or {}).get(device_id, 0.0)
        made.append(
            ShotReport(
                device_id,
                x_m=placement.position.x_m,
                y_m=placement.position.y_m,
                height_m=placement.height_m,
                onset=onset,
                timing_sigma_s=sigma_s,
            )
        )
    return made


def located(result: Localisation | Unlocalised) -> Localisation:
    assert isinstance(result, Localisation), f"expected a position, got {result}"
    return result


def error_m(result: Localisation, source: tuple[float, float]) -> float:
    return math.hypot(result.position[0] - source[0], result.position[1] - source[1])


def test_exact_arrival_times_place_the_shot_within_half_a_metre_anywhere_on_the_site() -> None:
    rng = np.random.default_rng(11)
    for _ in range(25):
        source = (float(rng.uniform(0, 100)), float(rng.uniform(0, 60)))
        result = located(localise_on_site(reports(source), SITE))
        assert error_m(result, source) < 0.5, source
        assert result.rejected_devices == ()
        assert result.residual_rms_ms < 0.01
        assert result.emission_time == pytest.approx(10.0, abs=1e-5)


def test_datetime_onsets_keep_the_microsecond_and_give_the_emission_time() -> None:
    source = (63.0, 21.0)
    made = [
        ShotReport(
            r.device_id,
            x_m=r.x_m,
            y_m=r.y_m,
            height_m=r.height_m,
            onset=T0 + timedelta(seconds=arrival_s(r.device_id, source)),
            timing_sigma_s=1e-4,
        )
        for r in reports(source)
    ]
    result = located(localise_on_site(made, SITE))
    assert error_m(result, source) < 0.1
    assert isinstance(result.emission_time, datetime)
    assert abs((result.emission_time - T0).total_seconds()) < 5e-5
    on_the_alert = json.loads(json.dumps(result.to_dict()))
    assert datetime.fromisoformat(on_the_alert["emission_time"]) == result.emission_time
    assert on_the_alert["radius_95_m"] == result.radius_95_m and len(on_the_alert["used_devices"]) == 6


def test_reported_95_percent_radius_holds_the_true_source_in_at_least_90_percent_of_noisy_trials() -> None:
    rng = np.random.default_rng(2026)
    inside = 0
    for _ in range(200):
        source = (float(rng.uniform(0, 100)), float(rng.uniform(0, 60)))
        result = located(localise_on_site(reports(source, noise_s=2e-4, sigma_s=2e-4, rng=rng), SITE))
        inside += error_m(result, source) <= result.radius_95_m
    assert inside >= 180, f"only {inside} of 200 true sources inside the reported 95 % radius"


def test_an_echo_heard_by_one_of_five_microphones_is_rejected_and_the_position_stays_accurate() -> None:
    rng = np.random.default_rng(5)
    five = ["mic-sw", "mic-s", "mic-se", "mic-ne", "mic-nw"]
    for source in [(30.0, 20.0), (70.0, 40.0), (50.0, 30.0)]:
        made = reports(source, five, noise_s=1e-4, sigma_s=1e-4, delays={"mic-ne": 0.015}, rng=rng)
        result = located(localise_on_site(made, SITE))
        assert [r.device_id for r in result.rejected_devices] == ["mic-ne"], source
        rejection = result.rejected_devices[0]
        assert "later" in rejection.reason and "echo" in rejection.reason
        assert rejection.residual_ms == pytest.approx(15.0, abs=0.5)
        assert "mic-ne" not in result.used_devices
        assert error_m(result, source) < 0.5


def test_an_echo_and_a_clock_running_ahead_among_six_are_both_rejected() -> None:
    source = (40.0, 35.0)
    made = reports(source, delays={"mic-se": 0.02, "mic-n": -0.008})
    result = located(localise_on_site(made, SITE))
    reasons = {r.device_id: r.reason for r in result.rejected_devices}
    assert set(reasons) == {"mic-se", "mic-n"}
    assert "later" in reasons["mic-se"] and "earlier" in reasons["mic-n"]
    assert error_m(result, source) < 0.5


def test_an_echo_among_four_is_never_hidden_the_true_place_is_the_answer_or_a_stated_alternative() -> None:
    four = ["mic-sw", "mic-se", "mic-ne", "mic-nw"]
    for source in [(30.0, 20.0), (60.0, 45.0)]:
        result = located(localise_on_site(reports(source, four, delays={"mic-ne": 0.015}), SITE))
        candidates = [result.position, *result.alternatives]
        assert min(math.hypot(x - source[0], y - source[1]) for x, y in candidates) < 0.5
        assert len(result.rejected_devices) == 1
        if result.alternatives:
            assert result.confidence < 0.3


def test_three_reports_locate_the_shot_but_with_lower_confidence_than_six() -> None:
    source = (45.0, 25.0)
    six = located(localise_on_site(reports(source), SITE))
    three = located(localise_on_site(reports(source, ["mic-sw", "mic-se", "mic-n"]), SITE))
    assert error_m(three, source) < 0.5
    assert three.confidence < six.confidence
    assert six.confidence > 0.8


def test_three_reports_prefer_the_mirror_solution_inside_the_site() -> None:
    triangle = ["mic-sw", "mic-se", "mic-n"]
    rng = np.random.default_rng(3)
    for _ in range(30):
        source = (float(rng.uniform(0, 100)), float(rng.uniform(0, 60)))
        result = located(localise_on_site(reports(source, triangle), SITE))
        candidates = [result.position, *result.alternatives]
        assert min(math.hypot(x - source[0], y - source[1]) for x, y in candidates) < 0.5, source
        x, y = result.position
        assert -0.5 <= x <= SITE.width_m + 0.5 and -0.5 <= y <= SITE.depth_m + 0.5, (source, result.position)


def test_two_reports_cannot_localise_and_say_why() -> None:
    result = localise_on_site(reports((50.0, 30.0), ["mic-sw", "mic-ne"]), SITE)
    assert isinstance(result, Unlocalised)
    assert result.reason == "too_few_devices"
    assert "at least 3" in result.detail


def test_collinear_microphones_cannot_localise_and_say_why() -> None:
    line = [
        ShotReport(
            f"mic-{k}", x_m=10.0 * k, y_m=5.0, onset=10.0 + math.hypot(10.0 * k - 33.0, 5.0 - 40.0) / C
        )
        for k in range(5)
    ]
    result = localise(line, temperature_c=SITE.temperature_c)
    assert isinstance(result, Unlocalised)
    assert result.reason == "collinear"
    assert "one line" in result.detail


def test_three_reports_that_no_place_explains_are_refused_as_inconsistent() -> None:
    made = reports((50.0, 30.0), ["mic-sw", "mic-se", "mic-n"])
    impossible = [*made[:2], ShotReport("mic-n", x_m=49.0, y_m=59.0, height_m=4.0, onset=made[0].onset + 0.5)]
    result = localise_on_site(impossible, SITE)
    assert isinstance(result, Unlocalised)
    assert result.reason == "inconsistent"


def test_a_device_with_an_unsynchronised_clock_is_set_aside_not_trusted() -> None:
    source = (20.0, 40.0)
    made = reports(source)
    made[0] = ShotReport(
        made[0].device_id, x_m=made[0].x_m, y_m=made[0].y_m, onset=made[0].onset + 0.7, timing_sigma_s=1.0
    )
    result = located(localise_on_site(made, SITE))
    assert result.rejected_devices[0].device_id == made[0].device_id
    assert "clock too uncertain" in result.rejected_devices[0].reason
    assert error_m(result, source) < 0.5


def test_bad_input_is_refused_with_a_message_naming_the_problem() -> None:
    made = reports((50.0, 30.0))
    with pytest.raises(LocalisationInputError, match="one report per device"):
        localise([*made, made[0]])
    mixed = [*made[:2], ShotReport("mic-x", x_m=1.0, y_m=1.0, onset=T0)]
    with pytest.raises(LocalisationInputError, match="mix datetimes and float seconds"):
        localise(mixed)
    with pytest.raises(LocalisationInputError, match="timezone"):
        ShotReport("mic-x", x_m=1.0, y_m=1.0, onset=datetime(2026, 1, 1))
    with pytest.raises(LocalisationInputError, match="timing_sigma_s must be > 0"):
        ShotReport("mic-x", x_m=1.0, y_m=1.0, onset=1.0, timing_sigma_s=0.0)
    with pytest.raises(LocalisationInputError, match="unknown clock source"):
        timing_sigma_s("sundial")


def gunshot_event(device_id: str, clock: ClockQuality) -> GunshotEvent:
    event = make_event(
        "gunshot",
        device_id=device_id,
        site="piazza",
        seq=1,
        payload={
            "onset_ts": "2026-11-22T21:14:03.251234Z",
            "peak_dbfs": -3.0,
            "duration_ms": 40.0,
            "score": 0.97,
        },
        ts=T0,
        clock=clock,
        privacy=PrivacyStamp(policy_id="audio-events", policy_version=1),
    )
    assert isinstance(event, GunshotEvent)
    return event


def test_an_event_becomes_a_report_placed_by_the_site_plan_and_weighed_by_its_clock() -> None:
    ntp = report_from_event(gunshot_event("mic-ne", ClockQuality(source="ntp", offset_ms=2.0)), SITE)
    ptp = report_from_event(gunshot_event("mic-ne", ClockQuality(source="ptp")), SITE)
    assert (ntp.x_m, ntp.y_m, ntp.height_m) == (97.0, 58.0, 4.0)
    assert ntp.onset == datetime(2026, 11, 22, 21, 14, 3, 251234, tzinfo=UTC)
    assert ntp.timing_sigma_s == pytest.approx(2e-3, rel=0.02)
    assert ptp.timing_sigma_s < 2e-4
    assert ntp.score == 0.97 and ntp.event_id
    with pytest.raises(KeyError, match="not on the plan"):
        report_from_event(gunshot_event("mic-elsewhere", ClockQuality(source="ntp")), SITE)


def test_the_probability_radius_is_exact_for_round_and_flat_gaussians() -> None:
    sigma = 2.0
    assert circular_radius(np.eye(2) * sigma**2, 0.95) == pytest.approx(
        sigma * math.sqrt(-2 * math.log(0.05))
    )
    assert circular_radius(np.diag([sigma**2, 0.0]), 0.95) == pytest.approx(1.959964 * sigma, rel=1e-5)
    elongated = np.diag([9.0, 1.0])
    samples = np.random.default_rng(0).multivariate_normal([0.0, 0.0], elongated, size=200_000)
    radius = circular_radius(elongated, 0.9)
    assert np.mean(np.hypot(samples[:, 0], samples[:, 1]) <= radius) == pytest.approx(0.9, abs=0.005)


def test_chi_square_tail_matches_the_tables() -> None:
    for x, dof in [(3.841, 1), (5.991, 2), (7.815, 3), (9.488, 4), (11.070, 5), (21.026, 12)]:
        assert chi2_sf(x, dof) == pytest.approx(0.05, abs=2e-4)


def test_the_analysts_request_gives_position_radius_and_the_sensors_it_used() -> None:
    source = (60.0, 15.0)
    c = speed_of_sound(15.0)
    echo = {"mic-nw": 0.03}
    # The analysts' frame is flat: microphones and source on one plane.
    sensors = [
        {
            "id": name,
            "x": x,
            "y": y,
            "t": 12.0 + math.hypot(x - source[0], y - source[1]) / c + echo.get(name, 0),
        }
        for name, (x, y) in MICROPHONES.items()
    ]
    answer = locate_request({"sensors": sensors, "temperature_c": 15})
    assert math.hypot(answer["x"] - source[0], answer["y"] - source[1]) < 0.5
    assert answer["rejected"] == ["mic-nw"]
    assert sorted(answer["used"]) == sorted(name for name in MICROPHONES if name != "mic-nw")
    assert 0.0 < answer["radius_90_m"] < answer["radius_95_m"]
    with pytest.raises(CannotLocalise, match="at least 3"):
        locate_request({"sensors": sensors[:2]})
    with pytest.raises(CannotLocalise, match=r"sensors\.0\.t"):
        locate_request({"sensors": [{"id": "a", "x": 0.0, "y": 0.0}]})
