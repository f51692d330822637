"""Which gunshot reports are one physical shot: the groups the localiser is given.

Two reports can be the same shot only if their onsets differ by no more than the sound's travel
time between the two microphones, plus what their clocks may be off by (the physical window).
Within a burst that alone is not enough: shots 0.1-1 s apart fall inside each other's windows
for microphones far apart. But a shooter who stays put gives every device the same delay
relative to every other for the whole burst, so each device's sequence of onsets is aligned to
the burst as a whole by one shift, chosen to match the most shots, and only then cut into shots.
Those shifts are arrival-time differences: once three devices are aligned they locate the
shooter, and the next device's shift must agree with that place, which settles the alignments a
missed shot would otherwise leave open (off by one shot, matching just as many).

The payload's `burst_id` and `shot_index` are not used: each device counts on its own, and a
device that missed the first shot numbers every later one differently, which is exactly the case
where a hint would be needed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from impetus.aggregator.localisation import (
    MAX_TIMING_SIGMA_S,
    SOURCE_HEIGHT_M,
    Localisation,
    ShotReport,
    localise,
    relative_onsets,
)
from impetus.protocol.site import SiteDescription, speed_of_sound

SPEED_MARGIN = 0.03
"""The speed of sound is known to a few per cent (temperature, wind): windows are this much wider."""

WINDOW_SLACK_S = 1e-3
"""Added to every physical window, for onset refinement and rounding."""

SHIFT_TOLERANCE_S = 0.01
"""How much a device's delay may wander within a burst (a shooter walking, a clock slewing)."""

TIMING_SIGMAS = 3.0


@dataclass
class _Shot:
    anchor_s: float
    members: dict[str, int] = field(default_factory=dict)


class _Windows:
    """Pairwise physical windows and match tolerances, indexed like the reports."""

    def __init__(self, reports: Sequence[ShotReport], temperature_c: float) -> None:
        self.temperature_c = temperature_c
        c = self.c = speed_of_sound(temperature_c)
        xyz = np.array([[r.x_m, r.y_m, r.height_m] for r in reports])
        sigma = np.array([min(r.timing_sigma_s, MAX_TIMING_SIGMA_S) for r in reports])
        distance = np.sqrt(((xyz[:, None, :] - xyz[None, :, :]) ** 2).sum(axis=2))
        pair_sigma = np.sqrt(sigma[:, None] ** 2 + sigma[None, :] ** 2)
        self.window = distance / c * (1.0 + SPEED_MARGIN) + TIMING_SIGMAS * pair_sigma + WINDOW_SLACK_S
        self.tolerance = SHIFT_TOLERANCE_S + TIMING_SIGMAS * pair_sigma

    def fits(self, times: np.ndarray, i: int, others: list[int]) -> bool:
        """Whether report i can be the same shot as every one of `others`."""
        return bool(np.all(np.abs(times[i] - times[others]) <= self.window[i, others]))


def group_reports(reports: Sequence[ShotReport], site: SiteDescription) -> list[list[ShotReport]]:
    """Cut reports into shots: one report per device per group, groups in time order.

    Groups of one or two reports are returned too (the shot happened, it just cannot be located).

    >>> for group in group_reports(reports, site):
    ...     result = localise_on_site(group, site)
    """
    if not reports:
        return []
    _, times = relative_onsets(reports)
    windows = _Windows(reports, site.temperature_c)
    order = np.argsort(times, kind="stable")
    widest = float(windows.window.max())
    groups: list[list[int]] = []
    start = 0
    for k in range(1, len(order) + 1):
        if k == len(order) or times[order[k]] - times[order[k - 1]] > widest:
            groups.extend(_split_burst(reports, times, windows, [int(i) for i in order[start:k]]))
            start = k
    groups.sort(key=lambda members: min(times[i] for i in members))
    return [[reports[i] for i in sorted(members, key=lambda i: times[i])] for members in groups]


def _split_burst(
    reports: Sequence[ShotReport], times: np.ndarray, windows: _Windows, burst: list[int]
) -> list[list[int]]:
    """Shots of one burst: every device's onsets aligned to the burst by one shift each."""
    by_device: dict[str, list[int]] = {}
    for i in burst:
        by_device.setdefault(reports[i].device_id, []).append(i)
    devices = sorted(by_device, key=lambda d: (-len(by_device[d]), times[by_device[d][0]]))
    shots = [_Shot(float(times[i]), {devices[0]: i}) for i in by_device[devices[0]]]
    shifts = {devices[0]: 0.0}
    for device in devices[1:]:
        mine = by_device[device]
        expected = _expected_shift(reports, by_device, shifts, device, windows)
        shift, matches = _best_alignment(times, windows, mine, shots, expected)
        if matches:
            shifts[device] = shift
        for i in mine:
            if i in matches:
                matches[i].members[device] = i
            else:
                shots.append(_Shot(float(times[i]) - shift, {device: i}))
    return [list(shot.members.values()) for shot in shots]


def _expected_shift(
    reports: Sequence[ShotReport],
    by_device: dict[str, list[int]],
    shifts: dict[str, float],
    device: str,
    windows: _Windows,
) -> tuple[float, float] | None:
    """Where the shifts found so far put the shooter, and so the shift this device should have.

    Shifts are arrival-time differences against the burst, so three aligned devices locate the
    shooter; the window of shifts within reach of that prediction is returned (start, end).
    """
    if len(shifts) < 3:
        return None
    aligned = [
        replace(reports[by_device[name][0]], onset=shift, timing_sigma_s=SHIFT_TOLERANCE_S / TIMING_SIGMAS)
        for name, shift in shifts.items()
    ]
    result = localise(aligned, temperature_c=windows.temperature_c)
    if not isinstance(result, Localisation):
        return None
    here = reports[by_device[device][0]]
    x, y = result.position
    travel = math.hypot(here.x_m - x, here.y_m - y, here.height_m - SOURCE_HEIGHT_M) / windows.c
    reach = SHIFT_TOLERANCE_S + result.radius_95_m / windows.c
    centre = float(result.emission_time) + travel
    return centre - reach, centre + reach


def _best_alignment(
    times: np.ndarray,
    windows: _Windows,
    mine: list[int],
    shots: list[_Shot],
    expected: tuple[float, float] | None,
) -> tuple[float, dict[int, _Shot]]:
    """The shift of one device against the burst that matches most of its onsets.

    Only shifts within the `expected` range are tried when the burst so far predicts one and one
    of them is there.

    Ties go to the smaller squared mismatch, then to the earlier pairs: a direct sound comes before
    its echoes, whether this device or the burst so far heard the echo too.
    """
    onsets = times[mine]
    anchors = np.array([shot.anchor_s for shot in shots])
    members = [list(shot.members.values()) for shot in shots]
    compatible = np.array(
        [
            [bool(np.all(np.abs(times[i] - times[js]) <= windows.window[i, js])) for js in members]
            for i in mine
        ]
    )
    tolerance = np.array([[float(windows.tolerance[i, js].max()) for js in members] for i in mine])
    offsets = onsets[:, None] - anchors[None, :]
    best: tuple[tuple[int, float, float], float, dict[int, _Shot]] = ((0, 0.0, 0.0), 0.0, {})
    candidates = np.unique(offsets[compatible])
    if expected is not None:
        near = candidates[(candidates >= expected[0]) & (candidates <= expected[1])]
        candidates = near if len(near) else candidates
    for shift in candidates:
        gap = np.abs(offsets - shift)
        usable = compatible & (gap <= tolerance)
        matches: dict[int, _Shot] = {}
        mismatch = lateness = 0.0
        for row in range(len(mine)):
            if not usable[row].any():
                continue
            k = int(np.argmin(np.where(usable[row], gap[row], np.inf)))
            usable[:, k] = False
            matches[mine[row]] = shots[k]
            mismatch += float(gap[row, k]) ** 2
            lateness += float(onsets[row] + anchors[k])
        score = (len(matches), -mismatch, -lateness)
        if score > best[0]:
            best = (score, float(shift), matches)
    return best[1], best[2]
