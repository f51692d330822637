"""Which gunshot reports are one physical shot: the groups the localiser is given.

Two reports can be the same shot only if their onsets differ by no more than the sound's travel
time between the two microphones, plus what their clocks may be off by (the physical window).
Within a burst that alone is not enough: shots 0.1-1 s apart fall inside each other's windows
for microphones far apart. But a shooter who stays put gives every device the same delay
relative to every other for the whole burst, so each device's sequence of onsets is aligned to
the burst as a whole by one shift, chosen to match the most shots, and only then cut into shots.

The payload's `burst_id` and `shot_index` are not used: each device counts on its own, and a
device that missed the first shot numbers every later one differently, which is exactly the case
where a hint would be needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from impetus.aggregator.localisation import MAX_TIMING_SIGMA_S, ShotReport, relative_onsets
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

    def __init__(self, reports: Sequence[ShotReport], c: float) -> None:
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
    windows = _Windows(reports, speed_of_sound(site.temperature_c))
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
    for device in devices[1:]:
        mine = by_device[device]
        shift, matches = _best_alignment(times, windows, mine, shots)
        for i in mine:
            if i in matches:
                matches[i].members[device] = i
            else:
                shots.append(_Shot(float(times[i]) - shift, {device: i}))
    return [list(shot.members.values()) for shot in shots]


def _best_alignment(
    times: np.ndarray, windows: _Windows, mine: list[int], shots: list[_Shot]
) -> tuple[float, dict[int, _Shot]]:
    """The shift of one device against the burst that matches most of its onsets.

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
    for shift in np.unique(offsets[compatible]):
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
