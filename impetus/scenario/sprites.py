"""How a person, a bag or a car looks on screen, behind one small interface.

`SpriteBank.draw` paints one object into the box the camera geometry gave it; the renderer decides
where and in which order (far first). `DrawnSprites` paints simple figures with OpenCV primitives:
fast and dependency-free, but not what a COCO detector was trained on. `PhotoSprites` (see
`photo_sprites.py`) cuts people out of real photographs instead.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import cv2
import numpy as np

Box = tuple[float, float, float, float]
"""x0, y0, x1, y1 in pixels."""
PERSON_ASPECT = 0.45 / 1.75
"""Shoulder width over height of an adult."""

SHIRTS = np.array(
    [
        [40, 40, 180],
        [180, 60, 30],
        [30, 140, 40],
        [200, 200, 200],
        [30, 30, 30],
        [0, 160, 220],
        [120, 50, 120],
        [60, 110, 160],
        [90, 90, 90],
        [20, 60, 110],
        [160, 160, 60],
        [50, 50, 140],
    ],
    dtype=np.int32,
)
TROUSERS = np.array([[60, 40, 30], [40, 40, 40], [110, 80, 40], [90, 90, 100], [30, 30, 60]], dtype=np.int32)
SKIN = np.array([[150, 180, 220], [110, 150, 200], [80, 110, 160], [50, 70, 110]], dtype=np.int32)
BAGS = {"backpack": (40, 60, 30), "suitcase": (60, 40, 120), "handbag": (30, 50, 90), "other": (80, 80, 80)}
CARS = np.array(
    [[200, 200, 200], [40, 40, 40], [30, 30, 160], [150, 80, 20], [170, 170, 150]], dtype=np.int32
)


def _colour(palette: np.ndarray, variant: int) -> tuple[int, int, int]:
    r = palette[variant % len(palette)]
    return int(r[0]), int(r[1]), int(r[2])


class SpriteBank(ABC):
    """Paints objects of the scene. `variant` picks a stable look per object (its clothes);
    `stride` (0..1) is the walking phase, so legs move when people do."""

    name: str = "sprites"

    def person_aspect(self, variant: int) -> float:
        """Width over height of a person as this bank paints them (the truth box follows it)."""
        return PERSON_ASPECT

    @abstractmethod
    def draw(self, image: np.ndarray, kind: str, box: Box, variant: int, stride: float = 0.0) -> None: ...


class DrawnSprites(SpriteBank):
    """Figures from OpenCV primitives: head, torso, legs; bags as boxes; cars as body and cabin."""

    name = "drawn"

    def draw(self, image: np.ndarray, kind: str, box: Box, variant: int, stride: float = 0.0) -> None:
        if kind == "person":
            self._person(image, box, variant, stride)
        elif kind in ("car", "truck", "bus", "motorbike", "bicycle"):
            self._car(image, box, variant)
        else:
            self._bag(image, kind, box)

    @staticmethod
    def _person(image: np.ndarray, box: Box, variant: int, stride: float) -> None:
        x0, y0, x1, y1 = box
        h = y1 - y0
        cx = (x0 + x1) / 2.0
        shirt = _colour(SHIRTS, variant)
        trousers = _colour(TROUSERS, variant // 3)
        skin = _colour(SKIN, variant // 7)
        if h < 8:
            mid = round(y0 + 0.5 * h)
            cv2.rectangle(image, (int(x0), int(y0)), (int(x1), mid), shirt, -1)
            cv2.rectangle(image, (int(x0), mid), (int(x1), int(y1)), trousers, -1)
            return
        half = (x1 - x0) / 2.0
        head_r = max(1, round(0.065 * h))
        cv2.circle(image, (round(cx), round(y0 + head_r)), head_r, skin, -1, cv2.LINE_AA)
        hip = y0 + 0.53 * h
        shoulder = y0 + 0.15 * h
        torso = np.array(
            [
                [cx - half * 0.85, shoulder],
                [cx + half * 0.85, shoulder],
                [cx + half * 0.6, hip],
                [cx - half * 0.6, hip],
            ]
        )
        cv2.fillConvexPoly(image, torso.astype(np.int32), shirt, cv2.LINE_AA)
        spread = half * 0.55 * np.sin(2.0 * np.pi * stride)
        for side in (-1.0, 1.0):
            foot = cx + side * (half * 0.3) + side * spread
            leg = np.array(
                [
                    [cx + side * half * 0.05, hip],
                    [cx + side * half * 0.6, hip],
                    [foot + side * half * 0.2, y1],
                    [foot - side * half * 0.2, y1],
                ]
            )
            cv2.fillConvexPoly(image, leg.astype(np.int32), trousers, cv2.LINE_AA)

    @staticmethod
    def _bag(image: np.ndarray, kind: str, box: Box) -> None:
        x0, y0, x1, y1 = (round(v) for v in box)
        colour = BAGS.get(kind, BAGS["other"])
        cv2.rectangle(image, (x0, y0), (x1, y1), colour, -1)
        flap = y0 + max(1, (y1 - y0) // 3)
        cv2.rectangle(image, (x0, y0), (x1, flap), tuple(min(255, c + 40) for c in colour), -1)

    @staticmethod
    def _car(image: np.ndarray, box: Box, variant: int) -> None:
        x0, y0, x1, y1 = box
        w, h = x1 - x0, y1 - y0
        body = _colour(CARS, variant)
        cabin = np.array(
            [
                [x0 + 0.2 * w, y0 + 0.45 * h],
                [x0 + 0.3 * w, y0],
                [x0 + 0.75 * w, y0],
                [x0 + 0.85 * w, y0 + 0.45 * h],
            ]
        )
        cv2.fillConvexPoly(image, cabin.astype(np.int32), body, cv2.LINE_AA)
        glass = np.array(
            [
                [x0 + 0.25 * w, y0 + 0.42 * h],
                [x0 + 0.32 * w, y0 + 0.06 * h],
                [x0 + 0.73 * w, y0 + 0.06 * h],
                [x0 + 0.8 * w, y0 + 0.42 * h],
            ]
        )
        cv2.fillConvexPoly(image, glass.astype(np.int32), (70, 50, 40), cv2.LINE_AA)
        cv2.rectangle(image, (int(x0), int(y0 + 0.4 * h)), (int(x1), int(y0 + 0.85 * h)), body, -1)
        r = max(1, int(0.15 * h))
        for wx in (x0 + 0.2 * w, x0 + 0.8 * w):
            cv2.circle(image, (int(wx), int(y1 - r)), r, (20, 20, 20), -1, cv2.LINE_AA)
