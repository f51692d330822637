"""The numerical core of gunshot localisation: fit (x, y, t0) to arrival times, and the statistics
that judge the fit. No policy lives here (which report to distrust is `localisation`'s business).

Everything is in range units, time x speed of sound, so that all three unknowns are metres and the
normal equations stay well conditioned. Microphone i hears the shot at range r_i = tau + d_i, where
tau = c t0 and d_i the 3-D distance from the source (at an assumed height) to the microphone.

Why a grid before the solver: TDOA cost surfaces have more than one basin (with three microphones
two exact solutions are common), and a closed form started in the wrong one converges there. A
coarse grid over the site and around it finds every basin, Levenberg-Marquardt polishes the best
few, and a tie is broken in favour of the solution inside the site.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

GRID_POINTS = 81
"""Per axis, over the site plus half its extent on every side: about 2.5 m cells on a 100 m site."""

GRID_STARTS = 4
"""Local minima of the grid, at least three cells apart, that the solver is started from."""

TIE_COST = 1.0
"""Solutions whose chi^2 differ by less than this explain the times equally well."""

DISTINCT_M = 0.5


@dataclass(frozen=True)
class Bounds:
    """A rectangle of the site frame, in metres."""

    x_min: float
    y_min: float
    x_max: float
    y_max: float

    @classmethod
    def around(cls, xy: np.ndarray) -> Bounds:
        return cls(float(xy[:, 0].min()), float(xy[:, 1].min()), float(xy[:, 0].max()), float(xy[:, 1].max()))

    def contains(self, x: float, y: float) -> bool:
        return self.x_min <= x <= self.x_max and self.y_min <= y <= self.y_max

    def union(self, other: Bounds) -> Bounds:
        return Bounds(
            min(self.x_min, other.x_min),
            min(self.y_min, other.y_min),
            max(self.x_max, other.x_max),
            max(self.y_max, other.y_max),
        )

    def expanded(self, margin_m: float) -> Bounds:
        return Bounds(
            self.x_min - margin_m, self.y_min - margin_m, self.x_max + margin_m, self.y_max + margin_m
        )


@dataclass
class Fit:
    """A least-squares solution on a subset `idx` of the microphones.

    `params` is (x, y, tau) in metres, `cost` the chi^2 of the whitened residuals, `info` the
    Fisher information J^T W J; `alternatives` other (x, y) the same times explain as well.
    """

    idx: np.ndarray
    params: np.ndarray
    cost: float
    info: np.ndarray
    alternatives: list[tuple[float, float]]

    @property
    def dof(self) -> int:
        return len(self.idx) - 3

    @property
    def xy(self) -> tuple[float, float]:
        return float(self.params[0]), float(self.params[1])

    def p_value(self) -> float:
        """How likely residuals this large are under the declared noise (a triple: whether it fits)."""
        return chi2_sf(self.cost, max(self.dof, 1))

    def covariance(self) -> np.ndarray:
        """3x3 covariance of (x, y, tau), widened when the residuals say the noise was understated."""
        cov = np.linalg.pinv(self.info)
        if self.dof > 0:
            cov *= max(1.0, self.cost / self.dof)
        return cov


class TdoaProblem:
    """Microphones, arrival ranges and their one-sigma errors, all in metres."""

    def __init__(
        self, xy: np.ndarray, dz2: np.ndarray, ranges: np.ndarray, sigma: np.ndarray, bounds: Bounds
    ) -> None:
        self.xy, self.dz2, self.ranges, self.sigma, self.bounds = xy, dz2, ranges, sigma, bounds
        extent = max(bounds.x_max - bounds.x_min, bounds.y_max - bounds.y_min)
        search = bounds.union(Bounds.around(xy)).expanded(0.5 * extent)
        gx = np.linspace(search.x_min, search.x_max, GRID_POINTS)
        gy = np.linspace(search.y_min, search.y_max, GRID_POINTS)
        gxx, gyy = np.meshgrid(gx, gy)
        self.grid_shape = gxx.shape
        self.basin_m = 3.0 * max(gx[1] - gx[0], gy[1] - gy[0])
        self.grid = np.column_stack([gxx.ravel(), gyy.ravel()])
        dx2 = (gx[:, None] - xy[None, :, 0]) ** 2
        dy2 = (gy[:, None] - xy[None, :, 1]) ** 2
        self.grid_dist = np.sqrt(dy2[:, None, :] + dx2[None, :, :] + dz2).reshape(len(self.grid), len(xy))

    def distances(self, xy: tuple[float, float] | np.ndarray, idx: np.ndarray) -> np.ndarray:
        diff = np.asarray(xy, dtype=float)[None, :2] - self.xy[idx]
        return np.sqrt(np.maximum((diff**2).sum(axis=1) + self.dz2[idx], 1e-18))

    def residuals(self, params: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """Observed minus predicted arrival, in metres of range."""
        return self.ranges[idx] - params[2] - self.distances(params[:2], idx)

    def collinear(self, idx: np.ndarray) -> bool:
        """Microphones on (nearly) one line cannot tell a shot from its mirror image across it."""
        centred = self.xy[idx] - self.xy[idx].mean(axis=0)
        spread = np.linalg.svd(centred, compute_uv=False)
        return bool(spread[0] <= 1e-6 or spread[1] <= 0.05 * spread[0])

    def gdop(self, fit: Fit) -> float:
        """Geometric dilution of precision: metres of position error per metre of range error."""
        unit = self.xy[fit.idx] - np.asarray(fit.xy)[None, :]
        jac = np.column_stack([-unit / self.distances(fit.xy, fit.idx)[:, None], np.ones(len(fit.idx))])
        return float(np.sqrt(np.trace(np.linalg.pinv(jac.T @ jac)[:2, :2])))

    def prediction_miss(self, fit: Fit, i: int) -> tuple[float, float]:
        """How far report i arrives from where `fit` predicts it, in metres and in standard deviations."""
        miss = float(self.residuals(fit.params, np.array([i]))[0])
        diff = fit.params[:2] - self.xy[i]
        dist = math.sqrt(float(diff @ diff) + self.dz2[i])
        gradient = np.array([diff[0] / dist, diff[1] / dist, 1.0])
        variance = self.sigma[i] ** 2 + float(gradient @ fit.covariance() @ gradient)
        return miss, miss / math.sqrt(variance)

    def solve(self, idx: np.ndarray) -> Fit:
        """The best solution on microphones `idx`; mirror solutions inside the site as alternatives."""
        weights = 1.0 / self.sigma[idx] ** 2
        starts = self._closed_form_starts(idx) + self._grid_starts(idx, weights)
        fits: list[tuple[float, np.ndarray, np.ndarray]] = []
        for start in starts:
            params, cost, info = self._refine(idx, weights, start)
            if all(np.hypot(*(params[:2] - other[:2])) > DISTINCT_M for _, other, _ in fits):
                fits.append((cost, params, info))
        fits.sort(key=lambda fit: fit[0])
        tied = [fit for fit in fits if fit[0] <= fits[0][0] + TIE_COST]
        inside = [fit for fit in tied if self.bounds.contains(fit[1][0], fit[1][1])]
        cost, params, info = inside[0] if inside else tied[0]
        others = [(float(p[0]), float(p[1])) for _, p, _ in inside[1:]]
        return Fit(idx, params, cost, info, others)

    def _grid_starts(self, idx: np.ndarray, weights: np.ndarray) -> list[np.ndarray]:
        """The best local minima of chi^2 on the grid, with tau eliminated in closed form."""
        offsets = self.ranges[idx][None, :] - self.grid_dist[:, idx]
        tau = offsets @ weights / weights.sum()
        cost = (((offsets - tau[:, None]) ** 2) * weights).sum(axis=1).reshape(self.grid_shape)
        padded = np.pad(cost, 1, constant_values=np.inf)
        rows, cols = cost.shape
        lowest_neighbour = np.min(
            [
                padded[1 + dy : 1 + dy + rows, 1 + dx : 1 + dx + cols]
                for dy in (-1, 0, 1)
                for dx in (-1, 0, 1)
                if dy or dx
            ],
            axis=0,
        )
        minima = np.flatnonzero((cost <= lowest_neighbour).ravel())
        kept: list[int] = []
        for k in minima[np.argsort(cost.ravel()[minima])]:
            if all(np.hypot(*(self.grid[k] - self.grid[j])) > self.basin_m for j in kept):
                kept.append(int(k))
            if len(kept) == GRID_STARTS:
                break
        return [np.array([*self.grid[k], tau[k]]) for k in kept]

    def _closed_form_starts(self, idx: np.ndarray) -> list[np.ndarray]:
        """Spherical interpolation and intersection (Schau & Robinson) from the first microphone.

        Range differences make the range equations linear in (x, y, d0); with four or more reports
        least squares solves them outright, and for any number x and y are affine in d0, whose
        consistency with the geometry is a quadratic: its roots are the (up to two) exact solutions
        of three reports.
        """
        xy, dz2, ranges = self.xy[idx], self.dz2[idx], self.ranges[idx]
        rel = ranges[1:] - ranges[0]
        k = (xy**2).sum(axis=1) + dz2
        a = 2.0 * (xy[1:] - xy[0])
        b = k[1:] - k[0] - rel**2
        starts = []
        if len(idx) >= 4:
            (x, y, d0), *_ = np.linalg.lstsq(np.column_stack([a, 2.0 * rel]), b, rcond=None)
            starts.append(np.array([x, y, ranges[0] - d0]))
        pinv = np.linalg.pinv(a)
        u, v = pinv @ b - xy[0], pinv @ (-2.0 * rel)
        quad = (float(v @ v) - 1.0, 2.0 * float(u @ v), float(u @ u) + float(dz2[0]))
        for d0 in _real_roots(*quad):
            x, y = u + v * d0 + xy[0]
            starts.append(np.array([x, y, ranges[0] - d0]))
        return [start for start in starts if np.all(np.isfinite(start))]

    def _refine(
        self, idx: np.ndarray, weights: np.ndarray, start: np.ndarray
    ) -> tuple[np.ndarray, float, np.ndarray]:
        """Levenberg-Marquardt on the whitened residuals; returns params, chi^2 and J^T J."""
        root_w = np.sqrt(weights)
        xy, dz2, ranges = self.xy[idx], self.dz2[idx], self.ranges[idx]
        ones = np.ones(len(idx))

        def whitened(params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            diff = params[:2][None, :] - xy
            dist = np.sqrt(np.maximum((diff**2).sum(axis=1) + dz2, 1e-18))
            residual = root_w * (ranges - params[2] - dist)
            jac = -root_w[:, None] * np.column_stack([diff / dist[:, None], ones])
            return residual, jac

        params = start.astype(float)
        residual, jac = whitened(params)
        cost = float(residual @ residual)
        damping = 1e-3
        for _ in range(100):
            info = jac.T @ jac
            try:
                step = np.linalg.solve(info + damping * np.diag(np.diag(info) + 1e-12), -(jac.T @ residual))
            except np.linalg.LinAlgError:
                damping *= 10.0
                continue
            trial = params + step
            trial_residual, trial_jac = whitened(trial)
            trial_cost = float(trial_residual @ trial_residual)
            if trial_cost <= cost:
                converged = float(np.abs(step[:2]).max()) < 1e-7 or cost - trial_cost < 1e-12 * (1.0 + cost)
                params, residual, jac, cost = trial, trial_residual, trial_jac, trial_cost
                damping = max(damping / 3.0, 1e-9)
                if converged:
                    break
            else:
                damping *= 4.0
                if damping > 1e9:
                    break
        return params, cost, jac.T @ jac


def _real_roots(a: float, b: float, c: float) -> list[float]:
    """Non-negative real roots of a x^2 + b x + c; a double root when noise pushes the pair apart."""
    if abs(a) < 1e-12:
        return [-c / b] if abs(b) > 1e-12 and -c / b >= 0.0 else []
    disc = b * b - 4.0 * a * c
    roots = [-b / (2.0 * a)] if disc < 0.0 else [(-b + s * math.sqrt(disc)) / (2.0 * a) for s in (1.0, -1.0)]
    return [r for r in roots if r >= 0.0]


def circular_radius(covariance: np.ndarray, probability: float) -> float:
    """Radius of the circle about the mean holding `probability` of a 2-D Gaussian.

    Exact, not the usual largest-axis bound: in polar coordinates the radial integral is closed
    form, leaving one smooth periodic integral over the angle.
    """
    if not 0.0 < probability < 1.0:
        raise ValueError(f"probability must be in (0, 1), got {probability}")
    small, large = (
        float(v) for v in np.clip(np.linalg.eigvalsh(np.asarray(covariance, dtype=float)), 0.0, None)
    )
    if large <= 0.0:
        return 0.0
    if small <= large * 1e-6:
        return math.sqrt(large) * NormalDist().inv_cdf((1.0 + probability) / 2.0)
    theta = np.linspace(0.0, 2.0 * math.pi, 512, endpoint=False)
    a = np.cos(theta) ** 2 / large + np.sin(theta) ** 2 / small
    norm = math.sqrt(large * small)
    low, high = 0.0, math.sqrt(-2.0 * math.log(1.0 - probability) * large)
    for _ in range(40):
        mid = (low + high) / 2.0
        mass = float(np.mean((1.0 - np.exp(-a * (mid * mid / 2.0))) / a)) / norm
        low, high = (mid, high) if mass < probability else (low, mid)
    return high


def chi2_sf(x: float, dof: int) -> float:
    """P(chi^2 with `dof` degrees of freedom >= x), exact for integer dof (no scipy needed)."""
    if x <= 0.0:
        return 1.0
    if dof <= 0:
        return 0.0
    if dof % 2 == 0:
        half, term, total = x / 2.0, 1.0, 1.0
        for j in range(1, dof // 2):
            term *= half / j
            total += term
        return min(1.0, math.exp(-half) * total)
    total = math.erfc(math.sqrt(x / 2.0))
    term = math.sqrt(2.0 * x / math.pi) * math.exp(-x / 2.0)
    for j in range(1, (dof - 1) // 2 + 1):
        total += term
        term *= x / (2 * j + 1)
    return min(1.0, total)
