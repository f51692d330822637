"""What a camera sees: paved square, facades and sky, then people, bags and cars, far ones first.

The static part (sky, ground, buildings) is rendered once per camera and frame size and cached;
a frame copies it and paints the moving objects with the `SpriteBank`, each scaled by the pinhole
projection of its real size, in painter's order. The same geometry gives the ground truth: a box per
object and how much of it is visible (a label buffer filled in the same order says which object
owns each pixel, so a person hidden behind a nearer one is counted as hidden).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field

import cv2
import numpy as np

from impetus.protocol.payloads import Box
from impetus.protocol.site import SiteDescription
from impetus.scenario.camera import NEAR_M, PinholeCamera
from impetus.scenario.sprites import SpriteBank

PX_PER_M = 8
GROUND_MARGIN_M = 45.0
FACADE_SETBACK_M = 8.0
VISIBLE_MIN = 0.5
"""Share of its box an object must show to count as visible (the COCO-style 'mostly visible')."""
NOISE_FRAMES = 4


@dataclass(frozen=True)
class SceneObject:
    """A bag or a vehicle: a box of `width_m` x `length_m` x `height_m` standing at (x, y)."""

    cls: str
    track_id: str
    x_m: float
    y_m: float
    width_m: float
    length_m: float
    height_m: float
    heading_deg: float = 0.0
    variant: int = 0


@dataclass(frozen=True)
class People:
    """Everyone in the scene at one instant."""

    track_ids: list[str]
    xy: np.ndarray
    heights_m: np.ndarray
    speeds_mps: np.ndarray
    variants: np.ndarray


@dataclass(frozen=True)
class TruthObject:
    cls: str
    track_id: str
    box: Box
    ground: tuple[float, float]
    distance_m: float
    visible_fraction: float


@dataclass(frozen=True)
class FrameTruth:
    """Objects in the frame, with `counts` of those at least half visible per class, and `in_view`,
    the people whose feet are inside the frame whether hidden or not (what a density estimate
    over the calibrated ground area should find)."""

    objects: list[TruthObject]
    counts: dict[str, int] = field(default_factory=dict)
    in_view: int = 0


@dataclass
class _Drawable:
    cls: str
    track_id: str
    box: tuple[float, float, float, float]
    depth: float
    ground: tuple[float, float]
    distance: float
    variant: int
    stride: float


def _ground_texture(site: SiteDescription, rng: np.random.Generator) -> np.ndarray:
    """The site seen from above at PX_PER_M: paving stones, the road with its markings, kerbs."""
    m = GROUND_MARGIN_M
    w = int((site.width_m + 2 * m) * PX_PER_M)
    h = int((site.depth_m + 2 * m) * PX_PER_M)
    stones = rng.normal(0.0, 9.0, (h // 4 + 1, w // 4 + 1)).astype(np.float32)
    tint = cv2.resize(stones, (w, h), interpolation=cv2.INTER_NEAREST)[:h, :w]
    grain = rng.normal(0.0, 5.0, (h, w)).astype(np.float32)
    base = np.array([150, 165, 175], dtype=np.float32)
    texture = np.clip(base + (tint + grain)[..., None], 0, 255).astype(np.uint8)
    texture[:: PX_PER_M // 2, :] = (texture[:: PX_PER_M // 2, :] * 0.8).astype(np.uint8)
    texture[:, :: PX_PER_M // 2] = (texture[:, :: PX_PER_M // 2] * 0.8).astype(np.uint8)

    def rows(y0: float, y1: float) -> slice:
        # Texture row 0 is the far north edge (y = depth + margin).
        top = int((site.depth_m + m - y1) * PX_PER_M)
        return slice(max(top, 0), int((site.depth_m + m - y0) * PX_PER_M))

    asphalt = np.clip(rng.normal(70.0, 6.0, (h, w, 1)), 0, 255).astype(np.uint8)
    outside = np.ones((h, w), dtype=bool)
    outside[rows(0.0, site.depth_m), int(m * PX_PER_M) : int((m + site.width_m) * PX_PER_M)] = False
    for zone in site.zones:
        if zone.kind == "road":
            poly = np.array(
                [[(p.x_m + m) * PX_PER_M, (site.depth_m + m - p.y_m) * PX_PER_M] for p in zone.polygon],
                np.int32,
            )
            mask = np.zeros((h, w), np.uint8)
            cv2.fillPoly(mask, [poly], 1)
            outside |= mask.astype(bool)
    texture[outside] = asphalt[outside]
    for zone in site.zones:
        poly = np.array(
            [[(p.x_m + m) * PX_PER_M, (site.depth_m + m - p.y_m) * PX_PER_M] for p in zone.polygon], np.int32
        )
        if zone.kind == "road":
            ys = [p.y_m for p in zone.polygon]
            mid = int((site.depth_m + m - (min(ys) + max(ys)) / 2) * PX_PER_M)
            for x in range(0, w, 6 * PX_PER_M):
                cv2.line(texture, (x, mid), (x + 3 * PX_PER_M, mid), (230, 230, 230), max(1, PX_PER_M // 6))
            cv2.polylines(texture, [poly], True, (200, 200, 200), max(1, PX_PER_M // 3))
        elif zone.kind == "gathering":
            cv2.polylines(texture, [poly], True, (120, 140, 160), max(1, PX_PER_M // 4))
    return texture


def _buildings(
    site: SiteDescription, rng: np.random.Generator
) -> list[tuple[np.ndarray, tuple[int, int, int]]]:
    """Facade quads (4 site points each) around the square, each with a colour, windows included."""
    palette = [
        (110, 160, 200),
        (80, 110, 170),
        (170, 200, 220),
        (140, 140, 140),
        (90, 140, 190),
        (150, 180, 210),
    ]
    s = FACADE_SETBACK_M
    x0, y0, x1, y1 = -s, -s, site.width_m + s, site.depth_m + s
    sides = [((x0, y1), (x1, y1)), ((x1, y1), (x1, y0)), ((x1, y0), (x0, y0)), ((x0, y0), (x0, y1))]
    quads = []
    for (ax, ay), (bx, by) in sides:
        length = math.hypot(bx - ax, by - ay)
        pos = 0.0
        while pos < length:
            width = min(float(rng.uniform(10.0, 20.0)), length - pos)
            height = float(rng.uniform(12.0, 22.0))
            colour = palette[int(rng.integers(len(palette)))]
            fa, fb = pos / length, (pos + width) / length
            pa = np.array([ax + (bx - ax) * fa, ay + (by - ay) * fa])
            pb = np.array([ax + (bx - ax) * fb, ay + (by - ay) * fb])
            quads.append((np.array([[*pa, 0.0], [*pb, 0.0], [*pb, height], [*pa, height]]), colour))
            along = (pb - pa) / max(width, 1e-6)
            for floor in range(1, int(height // 3.2)):
                z = floor * 3.2
                for k in range(int(width // 3.0)):
                    c = pa + along * (1.0 + k * 3.0)
                    d = c + along * 1.2
                    window = np.array([[*c, z], [*d, z], [*d, z + 1.6], [*c, z + 1.6]])
                    quads.append((window, (60, 50, 45)))
            pos += width
    return quads


class SceneRenderer:
    """Frames and their ground truth for every camera of one site."""

    def __init__(self, site: SiteDescription, sprites: SpriteBank, seed: int) -> None:
        self.site = site
        self.sprites = sprites  # the default look; `render` and `truth` may be given another
        self.seed = seed
        rng = np.random.default_rng([seed, 9])
        self._texture = _ground_texture(site, rng)
        self._quads = _buildings(site, rng)
        self._backgrounds: dict[tuple[str, int, int], np.ndarray] = {}
        self._noise: dict[tuple[int, int], list[tuple[np.ndarray, np.ndarray]]] = {}
        self._lock = threading.Lock()

    def background(self, camera: PinholeCamera) -> np.ndarray:
        key = (camera.placement.device_id, camera.width, camera.height)
        cached = self._backgrounds.get(key)
        if cached is None:
            cached = self._render_background(camera)
            with self._lock:
                self._backgrounds[key] = cached
        return cached

    def _render_background(self, camera: PinholeCamera) -> np.ndarray:
        w, h = camera.width, camera.height
        horizon = camera.horizon_v
        rows = np.arange(h, dtype=np.float32)[:, None]
        sky_t = np.clip((horizon - rows) / max(h, 1), 0.0, 1.0)
        sky = (
            np.array([235, 215, 190], np.float32) * (1 - sky_t)
            + np.array([210, 160, 110], np.float32) * sky_t
        )
        image = np.broadcast_to(sky[:, None, :], (h, w, 3)).astype(np.uint8).copy()
        m = GROUND_MARGIN_M
        texture_to_ground = np.array(
            [[1.0 / PX_PER_M, 0.0, -m], [0.0, -1.0 / PX_PER_M, self.site.depth_m + m], [0.0, 0.0, 1.0]]
        )
        warp = camera.ground_to_image() @ texture_to_ground
        ground = cv2.warpPerspective(
            self._texture, warp, (w, h), flags=cv2.INTER_AREA, borderValue=(70, 70, 70)
        )
        first_row = max(0, math.ceil(horizon + 1.0))
        image[first_row:] = ground[first_row:]
        centres = [q.mean(axis=0) for q, _ in self._quads]
        order = np.argsort([-np.linalg.norm(c - camera.centre) for c in centres], kind="stable")
        for index in order:
            quad, colour = self._quads[index]
            pts = camera.project_polygon(quad)
            if pts is not None:
                cv2.fillPoly(image, [np.round(pts).astype(np.int32)], colour, cv2.LINE_AA)
        return image

    def _noise_pair(self, w: int, h: int, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Sensor noise: two non-negative images, added and subtracted, so pixels move both ways."""
        key = (w, h)
        if key not in self._noise:
            rng = np.random.default_rng([self.seed, w, h])
            pairs = [
                (rng.integers(0, 4, (h, w, 3), dtype=np.uint8), rng.integers(0, 4, (h, w, 3), dtype=np.uint8))
                for _ in range(NOISE_FRAMES)
            ]
            with self._lock:
                self._noise[key] = pairs
        return self._noise[key][index % NOISE_FRAMES]

    def _drawables(
        self, camera: PinholeCamera, people: People, props: list[SceneObject], t_s: float, sprites: SpriteBank
    ) -> list[_Drawable]:
        out: list[_Drawable] = []
        n = len(people.track_ids)
        if n:
            feet = np.column_stack([people.xy, np.zeros(n)])
            heads = np.column_stack([people.xy, people.heights_m])
            uv_f, depth = camera.project(feet)
            uv_h, depth_h = camera.project(heads)
            aspect = np.array([sprites.person_aspect(int(v)) for v in people.variants])
            half = (uv_f[:, 1] - uv_h[:, 1]) * aspect / 2.0
            ok = (depth > NEAR_M) & (depth_h > NEAR_M)
            ok &= (uv_f[:, 0] + half > 0) & (uv_f[:, 0] - half < camera.width)
            ok &= (uv_f[:, 1] > 0) & (uv_h[:, 1] < camera.height)
            dist = np.linalg.norm(people.xy - camera.centre[:2], axis=1)
            stride = (t_s * people.speeds_mps / 1.4 + people.variants * 0.37) % 1.0
            for i in np.flatnonzero(ok):
                box = (uv_f[i, 0] - half[i], uv_h[i, 1], uv_f[i, 0] + half[i], uv_f[i, 1])
                out.append(
                    _Drawable(
                        "person",
                        people.track_ids[i],
                        box,
                        float(depth[i]),
                        (float(people.xy[i, 0]), float(people.xy[i, 1])),
                        float(dist[i]),
                        int(people.variants[i]),
                        float(stride[i]) if people.speeds_mps[i] > 0.5 else 0.0,
                    )
                )
        for obj in props:
            a = math.radians(obj.heading_deg)
            fwd = np.array([math.sin(a), math.cos(a)]) * obj.length_m / 2
            side = np.array([math.cos(a), -math.sin(a)]) * obj.width_m / 2
            base = np.array([obj.x_m, obj.y_m])
            corners = [base + sf * fwd + ss * side for sf in (-1, 1) for ss in (-1, 1)]
            pts = np.array([[*c, z] for c in corners for z in (0.0, obj.height_m)])
            uv, depth = camera.project(pts)
            if (depth <= NEAR_M).any():
                continue
            x0, y0 = uv.min(axis=0)
            x1, y1 = uv.max(axis=0)
            if x1 < 0 or y1 < 0 or x0 > camera.width or y0 > camera.height:
                continue
            centre_depth = float(camera.to_camera(np.array([[obj.x_m, obj.y_m, 0.0]]))[0, 2])
            dist = float(np.linalg.norm(base - camera.centre[:2]))
            out.append(
                _Drawable(
                    obj.cls,
                    obj.track_id,
                    (x0, y0, x1, y1),
                    centre_depth,
                    (obj.x_m, obj.y_m),
                    dist,
                    obj.variant,
                    0.0,
                )
            )
        out.sort(key=lambda d: -d.depth)
        return out

    def _truth(self, camera: PinholeCamera, drawables: list[_Drawable], in_view: int) -> FrameTruth:
        w, h = camera.width, camera.height
        labels = np.zeros((h, w), dtype=np.int32)
        areas = []
        for k, d in enumerate(drawables, start=1):
            x0, y0, x1, y1 = d.box
            areas.append(max((x1 - x0) * (y1 - y0), 1.0))
            cv2.rectangle(
                labels, (math.floor(x0), math.floor(y0)), (math.ceil(x1) - 1, math.ceil(y1) - 1), k, -1
            )
        owned = np.bincount(labels.ravel(), minlength=len(drawables) + 1)
        objects = []
        counts: dict[str, int] = {}
        for k, d in enumerate(drawables, start=1):
            x0, y0, x1, y1 = d.box
            cx0, cy0 = min(max(x0, 0.0), w), min(max(y0, 0.0), h)
            cx1, cy1 = min(max(x1, 0.0), w), min(max(y1, 0.0), h)
            if cx1 <= cx0 or cy1 <= cy0:
                continue
            visible = min(1.0, owned[k] / areas[k - 1])
            box = Box(x=cx0 / w, y=cy0 / h, w=(cx1 - cx0) / w, h=(cy1 - cy0) / h)
            objects.append(TruthObject(d.cls, d.track_id, box, d.ground, d.distance, visible))
            if visible >= VISIBLE_MIN:
                counts[d.cls] = counts.get(d.cls, 0) + 1
        return FrameTruth(objects, counts, in_view)

    @staticmethod
    def _in_view(camera: PinholeCamera, people: People) -> int:
        if not people.track_ids:
            return 0
        uv, depth = camera.project(np.column_stack([people.xy, np.zeros(len(people.track_ids))]))
        inside = (depth > NEAR_M) & (uv[:, 0] >= 0) & (uv[:, 0] < camera.width)
        inside &= (uv[:, 1] >= 0) & (uv[:, 1] < camera.height)
        return int(inside.sum())

    def render(
        self,
        camera: PinholeCamera,
        people: People,
        props: list[SceneObject],
        t_s: float,
        sprites: SpriteBank | None = None,
    ) -> np.ndarray:
        sprites = sprites or self.sprites
        image = self.background(camera).copy()
        for d in self._drawables(camera, people, props, t_s, sprites):
            sprites.draw(image, d.cls, d.box, d.variant, d.stride)
        pick = int(np.random.default_rng(round(t_s * 1000.0)).integers(NOISE_FRAMES))
        add, sub = self._noise_pair(camera.width, camera.height, pick)
        cv2.add(image, add, dst=image)
        cv2.subtract(image, sub, dst=image)
        return image

    def truth(
        self,
        camera: PinholeCamera,
        people: People,
        props: list[SceneObject],
        t_s: float,
        sprites: SpriteBank | None = None,
    ) -> FrameTruth:
        drawables = self._drawables(camera, people, props, t_s, sprites or self.sprites)
        return self._truth(camera, drawables, self._in_view(camera, people))
