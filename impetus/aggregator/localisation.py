"""Where a shot was fired, from when three or more microphones heard it (time difference of arrival).

Microphone i hears the shot at t_i = t0 + d_i / c, so the unknowns are the source (x, y) and the
emission time t0. They are found by weighted nonlinear least squares (Levenberg-Marquardt), each
report weighed by its own timing uncertainty (clock sync plus onset jitter): a device on PTP counts
for more than one on NTP, and the covariance that comes out is in metres.

The numbers are done in `tdoa_solver`; this module decides which reports to believe. An echo
arrives late at one microphone, a drifting clock makes a device early or late. When the residuals
are larger than the declared timing noise explains, the fewest reports (one, then two, ... but
always a minority) are removed whose removal leaves the others agreeing and which each miss the
others' solution by OUTLIER_Z standard deviations. When several removals qualify, priors decide
(an echo is late, the shot is inside the site), and the positions the others would give are kept
as `alternatives` with a halved confidence: with four reports every triple fits exactly, so this is
common there. Three reports cannot be cross-checked at all and get a lower confidence.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import combinations
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from impetus.aggregator.tdoa_solver import Bounds, Fit, TdoaProblem, circular_radius
from impetus.protocol.envelope import GunshotEvent
from impetus.protocol.site import SiteDescription, speed_of_sound

Onset = float | datetime
CannotLocaliseReason = Literal["too_few_devices", "collinear", "inconsistent"]

SOURCE_HEIGHT_M = 1.5
"""Assumed height of a gun above the ground plane of the site (shoulder or hip)."""

ONSET_JITTER_S = 1e-4
"""One-sigma error of a detector's onset time on a clean impulse, before sample quantisation."""

CLOCK_SIGMA_S: dict[str, float] = {
    "ptp": 1e-5,
    "gps": 1e-5,
    "ntp": 5e-4,
    "rtc": 0.05,
    "unsynced": 1.0,
    "simulated": 0.0,
}
"""One-sigma clock error assumed per sync source when a device states no larger offset."""

MIN_TIMING_SIGMA_S = 2e-5
MAX_TIMING_SIGMA_S = 0.01
"""Beyond 10 ms (3.4 m of range) a report adds more doubt than position; it is set aside."""

CONSISTENT_P = 1e-3
"""Residuals less likely than this under the declared timing noise mean something is wrong."""

GROSS_P = 1e-6
"""Residuals this unlikely, with no single report to blame, mean the times cannot be trusted."""

OUTLIER_Z = 4.0
"""A report is dropped only if it misses the others' solution by this many standard deviations."""

USEFUL_GDOP = 10.0
"""Geometric dilution of precision at which geometry alone halves the confidence."""


class LocalisationInputError(ValueError):
    """Reports that cannot be put to the solver as given (mixed clocks, duplicated devices)."""


@dataclass(frozen=True)
class ShotReport:
    """One microphone's hearing of one shot: where the microphone is and when the onset came.

    >>> ShotReport("mic-a", x_m=0.0, y_m=0.0, onset=12.3456789, timing_sigma_s=2e-4)
    """

    device_id: str
    x_m: float
    y_m: float
    onset: Onset
    timing_sigma_s: float = 5e-4
    score: float = 1.0
    height_m: float = 0.0
    burst_id: str | None = None
    shot_index: int = 0
    event_id: str | None = None

    def __post_init__(self) -> None:
        for name in ("x_m", "y_m", "height_m", "timing_sigma_s"):
            if not math.isfinite(getattr(self, name)):
                raise LocalisationInputError(
                    f"report from {self.device_id!r}: {name} must be a finite number"
                )
        if self.timing_sigma_s <= 0.0:
            raise LocalisationInputError(
                f"report from {self.device_id!r}: timing_sigma_s must be > 0 s, got {self.timing_sigma_s}"
            )
        if isinstance(self.onset, datetime):
            if self.onset.tzinfo is None:
                raise LocalisationInputError(f"report from {self.device_id!r}: onset must carry a timezone")
        elif not math.isfinite(self.onset):
            raise LocalisationInputError(f"report from {self.device_id!r}: onset must be a finite number")


def timing_sigma_s(clock_source: str, offset_ms: float | None = None, sample_rate: int = 16_000) -> float:
    """One-sigma onset error of a report: clock sync, detector jitter and sample quantisation.

    The stated clock offset is used as a size, not subtracted: daemons disagree on its sign, and
    correcting with the wrong one doubles the error.
    """
    if clock_source not in CLOCK_SIGMA_S:
        raise LocalisationInputError(
            f"unknown clock source {clock_source!r}; expected one of {', '.join(CLOCK_SIGMA_S)}"
        )
    clock = max(CLOCK_SIGMA_S[clock_source], abs(offset_ms or 0.0) / 1000.0)
    quantisation = 1.0 / (sample_rate * math.sqrt(12.0))
    return math.sqrt(clock**2 + ONSET_JITTER_S**2 + quantisation**2)


def report_from_event(event: GunshotEvent, site: SiteDescription) -> ShotReport:
    """The report a gunshot event makes, placed where the site plan says its microphone is."""
    placement = site.device(event.device_id)
    if "microphone" not in placement.sensors:
        raise LocalisationInputError(
            f"device {event.device_id!r} sent a gunshot but has no microphone "
            f"on the plan of site {site.site!r}"
        )
    payload = event.payload
    return ShotReport(
        device_id=event.device_id,
        x_m=placement.position.x_m,
        y_m=placement.position.y_m,
        height_m=placement.height_m,
        onset=payload.onset_ts,
        timing_sigma_s=timing_sigma_s(event.clock.source, event.clock.offset_ms, payload.sample_rate),
        score=payload.score,
        burst_id=payload.burst_id,
        shot_index=payload.shot_index,
        event_id=event.event_id,
    )


def relative_onsets(reports: Sequence[ShotReport]) -> tuple[Onset, np.ndarray]:
    """The earliest onset and every onset in seconds after it, exact to the microsecond for datetimes."""
    onsets = [r.onset for r in reports]
    if all(isinstance(o, datetime) for o in onsets):
        ref_dt = min(onsets)  # type: ignore[type-var]
        return ref_dt, np.array([(o - ref_dt).total_seconds() for o in onsets])  # type: ignore[operator]
    if any(isinstance(o, datetime) for o in onsets):
        raise LocalisationInputError("onsets mix datetimes and float seconds; give all reports the same kind")
    ref = float(min(onsets))  # type: ignore[type-var]
    return ref, np.array([float(o) - ref for o in onsets])  # type: ignore[arg-type]


@dataclass(frozen=True)
class Rejection:
    device_id: str
    reason: str
    residual_ms: float | None = None


@dataclass(frozen=True)
class Localisation:
    """Where the shot came from, how sure, and which reports said so.

    `covariance` is the 2x2 position covariance in m^2 (x, y); `radius_95_m` the radius of the
    circle around `position` that holds the source with 95 % probability under it. `alternatives`
    are other positions the reports cannot rule out: the mirror solution of three reports inside
    the site, or where the shot would be if another report were the echo.
    """

    position: tuple[float, float]
    covariance: tuple[tuple[float, float], tuple[float, float]]
    radius_95_m: float
    emission_time: Onset
    emission_sigma_ms: float
    used_devices: tuple[str, ...]
    rejected_devices: tuple[Rejection, ...]
    residual_rms_ms: float
    confidence: float
    gdop: float
    alternatives: tuple[tuple[float, float], ...] = ()

    def radius_m(self, probability: float) -> float:
        return circular_radius(np.array(self.covariance), probability)

    def to_dict(self) -> dict[str, Any]:
        emission = self.emission_time
        return {
            "x_m": self.position[0],
            "y_m": self.position[1],
            "covariance_m2": [list(row) for row in self.covariance],
            "radius_95_m": self.radius_95_m,
            "emission_time": emission.isoformat() if isinstance(emission, datetime) else emission,
            "emission_sigma_ms": self.emission_sigma_ms,
            "used_devices": list(self.used_devices),
            "rejected_devices": [vars(r) for r in self.rejected_devices],
            "residual_rms_ms": self.residual_rms_ms,
            "confidence": self.confidence,
            "gdop": self.gdop,
            "alternatives": [list(xy) for xy in self.alternatives],
        }


@dataclass(frozen=True)
class Unlocalised:
    """Why no position can be given; the alert still stands, without a place."""

    reason: CannotLocaliseReason
    detail: str
    used_devices: tuple[str, ...] = ()
    rejected_devices: tuple[Rejection, ...] = ()


def localise(
    reports: Sequence[ShotReport],
    *,
    temperature_c: float = 15.0,
    bounds: Bounds | None = None,
    source_height_m: float = SOURCE_HEIGHT_M,
) -> Localisation | Unlocalised:
    """Estimate where one shot was fired from the reports of one group (one report per device).

    `bounds` is the site rectangle (a tie between mirror solutions goes to the one inside it);
    without it, the box around the microphones.

    >>> result = localise(reports, temperature_c=12.0)
    >>> if isinstance(result, Localisation):
    ...     print(result.position, result.radius_95_m)
    """
    ids = [r.device_id for r in reports]
    repeated = sorted({d for d in ids if ids.count(d) > 1})
    if repeated:
        raise LocalisationInputError(
            f"one report per device is expected (group the reports first); repeated: {repeated}"
        )
    rejected = [
        Rejection(
            r.device_id,
            f"clock too uncertain for localisation: ±{r.timing_sigma_s * 1e3:.1f} ms "
            f"(the limit is {MAX_TIMING_SIGMA_S * 1e3:.0f} ms)",
        )
        for r in reports
        if r.timing_sigma_s > MAX_TIMING_SIGMA_S
    ]
    usable = [r for r in reports if r.timing_sigma_s <= MAX_TIMING_SIGMA_S]
    if len(usable) < 3:
        return Unlocalised(
            "too_few_devices",
            f"{len(usable)} usable report(s); time difference of arrival needs at least 3",
            tuple(r.device_id for r in usable),
            tuple(rejected),
        )
    reference, times = relative_onsets(usable)
    c = speed_of_sound(temperature_c)
    xy = np.array([[r.x_m, r.y_m] for r in usable])
    problem = TdoaProblem(
        xy=xy,
        dz2=np.array([(r.height_m - source_height_m) ** 2 for r in usable]),
        ranges=times * c,
        sigma=np.array([max(r.timing_sigma_s, MIN_TIMING_SIGMA_S) for r in usable]) * c,
        bounds=bounds or Bounds.around(xy),
    )
    everyone = np.arange(len(usable))
    if problem.collinear(everyone):
        return Unlocalised(
            "collinear",
            "the microphones stand on one line, so the shot and its mirror image across it are "
            "indistinguishable; a microphone off that line is needed",
            tuple(r.device_id for r in usable),
            tuple(rejected),
        )
    fit = _drop_outliers(problem, problem.solve(everyone), usable, rejected, c)
    if fit.p_value() < GROSS_P:
        rms_ms = _rms(problem.residuals(fit.params, fit.idx)) / c * 1e3
        return Unlocalised(
            "inconsistent",
            f"the arrival times disagree by {rms_ms:.1f} ms RMS at the best position, far beyond their "
            "stated timing uncertainty, and no minority of the reports explains it",
            tuple(_ids(usable, fit.idx)),
            tuple(rejected),
        )
    return _result(problem, fit, usable, rejected, reference, c)


def site_bounds(site: SiteDescription) -> Bounds:
    return Bounds(0.0, 0.0, site.width_m, site.depth_m)


def localise_on_site(
    reports: Sequence[ShotReport], site: SiteDescription, *, source_height_m: float = SOURCE_HEIGHT_M
) -> Localisation | Unlocalised:
    """`localise` with the site's temperature and plan rectangle."""
    return localise(
        reports,
        temperature_c=site.temperature_c,
        bounds=site_bounds(site),
        source_height_m=source_height_m,
    )


def _ids(reports: Sequence[ShotReport], idx: np.ndarray) -> list[str]:
    return [reports[int(i)].device_id for i in idx]


def _rms(values: np.ndarray) -> float:
    return float(np.sqrt(np.mean(values**2)))


@dataclass
class _Explanation:
    """The reports `removed` are the faulty ones; `without` is the fit of the others."""

    without: Fit
    removed: list[int]
    misses_m: list[float]
    late: bool


def _drop_outliers(
    problem: TdoaProblem, fit: Fit, reports: Sequence[ShotReport], rejected: list[Rejection], c: float
) -> Fit:
    """Remove the fewest reports that make the rest agree (at most a minority of them)."""
    if fit.p_value() >= CONSISTENT_P:
        return fit
    n = len(fit.idx)
    fewest_left = 3 if n == 4 else 4
    for k in range(1, min(n - fewest_left, (n - 1) // 2) + 1):
        explanations = _explanations(problem, fit.idx, k)
        if not explanations:
            continue
        chosen, rivals = explanations[0], explanations[1:]
        rival_names = [", ".join(reports[i].device_id for i in e.removed) for e in rivals]
        for i, miss_m in zip(chosen.removed, chosen.misses_m, strict=True):
            rejected.append(_outlier(reports[i].device_id, miss_m / c, len(chosen.without.idx), rival_names))
        chosen.without.alternatives += [e.without.xy for e in rivals]
        return chosen.without
    return fit


def _explanations(problem: TdoaProblem, idx: np.ndarray, k: int) -> list[_Explanation]:
    """Every way of removing k reports after which the rest agree and each removed one misses by far.

    Likeliest first: echoes (late) before clocks running ahead, a shot inside the site before one
    outside, then the better fit.
    """
    found = []
    for removed in combinations(idx.tolist(), k):
        rest = idx[~np.isin(idx, removed)]
        if problem.collinear(rest):
            continue
        without = problem.solve(rest)
        if without.p_value() < CONSISTENT_P:
            continue
        misses = [problem.prediction_miss(without, i) for i in removed]
        if all(abs(z) >= OUTLIER_Z for _, z in misses):
            late = all(z > 0 for _, z in misses)
            found.append(_Explanation(without, list(removed), [m for m, _ in misses], late))
    preferences: tuple[Callable[[_Explanation], bool], ...] = (
        lambda e: e.late,
        lambda e: problem.bounds.contains(*e.without.xy),
    )
    for prefer in preferences:
        preferred = [e for e in found if prefer(e)]
        if len(found) > 1 and preferred:
            found = preferred
    return sorted(found, key=lambda e: e.without.cost)


def _outlier(device_id: str, miss_s: float, others: int, rivals: list[str]) -> Rejection:
    ms = miss_s * 1e3
    when, cause = ("later", "an echo, or a late clock") if ms > 0 else ("earlier", "a clock running ahead")
    why = f"arrived {abs(ms):.1f} ms {when} than the other {others} reports place the shot ({cause})"
    if rivals:
        why += (
            f"; {', '.join(rivals)} could be the faulty one instead, and where the shot would then be "
            "is given as an alternative"
        )
    return Rejection(device_id, why, ms)


def _result(
    problem: TdoaProblem,
    fit: Fit,
    reports: Sequence[ShotReport],
    rejected: list[Rejection],
    reference: Onset,
    c: float,
) -> Localisation:
    cov = fit.covariance()
    cov_xy = cov[:2, :2]
    gdop = problem.gdop(fit)
    fit_factor = 1.0 if fit.dof == 0 else min(1.0, fit.p_value() / 0.05)
    redundancy = {0: 0.5, 1: 0.8}.get(fit.dof, 1.0)
    geometry = 1.0 / (1.0 + (gdop / USEFUL_GDOP) ** 2)
    ambiguity = 0.5 if fit.alternatives else 1.0
    t0_s = float(fit.params[2]) / c
    emission: Onset = (
        reference + timedelta(seconds=t0_s) if isinstance(reference, datetime) else float(reference) + t0_s
    )
    return Localisation(
        position=fit.xy,
        covariance=((float(cov_xy[0, 0]), float(cov_xy[0, 1])), (float(cov_xy[1, 0]), float(cov_xy[1, 1]))),
        radius_95_m=circular_radius(cov_xy, 0.95),
        emission_time=emission,
        emission_sigma_ms=math.sqrt(max(float(cov[2, 2]), 0.0)) / c * 1e3,
        used_devices=tuple(_ids(reports, fit.idx)),
        rejected_devices=tuple(rejected),
        residual_rms_ms=_rms(problem.residuals(fit.params, fit.idx)) / c * 1e3,
        confidence=float(np.clip(fit_factor * redundancy * geometry * ambiguity, 0.0, 1.0)),
        gdop=gdop,
        alternatives=tuple(fit.alternatives),
    )


class CannotLocalise(ValueError):
    """No position for this request; the message says why."""


class _Sensor(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    x: float
    y: float
    t: float
    z: float = 0.0
    sigma_ms: float = Field(default=1.0, gt=0.0)


class _LocateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sensors: list[_Sensor]
    temperature_c: float = Field(default=15.0, ge=-40.0, le=60.0)
    source_height_m: float = 0.0


def locate_request(data: Any) -> dict[str, Any]:
    """The analysts' form (`impetus aggregator locate FILE.json`): sensors with x, y, t in, a position out.

    Input `{"sensors": [{"id": "a", "x": 0.0, "y": 0.0, "t": 12.3456789}, ...], "temperature_c": 15}`;
    optional per sensor `z` (m) and `sigma_ms` (timing uncertainty, default 1 ms).
    """
    try:
        request = _LocateRequest.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in item['loc']) or '(file)'}: {item['msg']}"
            for item in error.errors()[:5]
        )
        raise CannotLocalise(f"the request is not valid: {problems}") from None
    reports = [
        ShotReport(s.id, x_m=s.x, y_m=s.y, height_m=s.z, onset=s.t, timing_sigma_s=s.sigma_ms / 1e3)
        for s in request.sensors
    ]
    result = localise(reports, temperature_c=request.temperature_c, source_height_m=request.source_height_m)
    if isinstance(result, Unlocalised):
        rejected = "".join(f"; {r.device_id}: {r.reason}" for r in result.rejected_devices)
        raise CannotLocalise(f"cannot localise ({result.reason}): {result.detail}{rejected}")
    return {
        "x": result.position[0],
        "y": result.position[1],
        "radius_90_m": result.radius_m(0.90),
        "radius_95_m": result.radius_95_m,
        "used": list(result.used_devices),
        "rejected": [r.device_id for r in result.rejected_devices],
        "reasons": {r.device_id: r.reason for r in result.rejected_devices},
        "confidence": result.confidence,
        "emission_t": result.emission_time,
        "residual_rms_ms": result.residual_rms_ms,
    }
