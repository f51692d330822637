"""How a found region is hidden: blur, pixelate or solid fill, over the box grown by a margin.

The margin is deface's `mask_scale` (1.3: the box grows 30 % in width and height around its
centre) because detector boxes hug the face and miss hair, ears and chin.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np

MaskMode = Literal["blur", "pixelate", "solid"]
MASK_MODES: tuple[str, ...] = ("blur", "pixelate", "solid")
DEFAULT_MARGIN = 1.3
PIXELATE_BLOCKS = 5


def grow(box: np.ndarray, margin: float, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """(x1, y1, x2, y2) scaled by `margin` around its centre, clipped to the image."""
    if margin < 1.0:
        raise ValueError(f"margin must be >= 1.0 (1.3 grows the box by 30 %), got {margin}")
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    cx, cy, half_w, half_h = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) * margin / 2, (y2 - y1) * margin / 2
    h, w = shape[:2]
    return (
        max(0, int(np.floor(cx - half_w))),
        max(0, int(np.floor(cy - half_h))),
        min(w, int(np.ceil(cx + half_w))),
        min(h, int(np.ceil(cy + half_h))),
    )


def apply_mask(image: np.ndarray, region: tuple[int, int, int, int], mode: MaskMode) -> None:
    """Hide `region` of `image` in place; nothing of the original detail survives any mode."""
    x1, y1, x2, y2 = region
    if x2 <= x1 or y2 <= y1:
        return
    patch = image[y1:y2, x1:x2]
    h, w = patch.shape[:2]
    if mode == "solid":
        patch[:] = 0
    elif mode == "pixelate":
        # Five blocks across the longer side: an 8x8 mosaic of a face is still a face to a detector.
        block = max(1, max(h, w) // PIXELATE_BLOCKS)
        small = cv2.resize(patch, (max(1, w // block), max(1, h // block)), interpolation=cv2.INTER_AREA)
        patch[:] = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
    elif mode == "blur":
        # deface's strong blur: a box filter half the region's size, applied to a 2x2 reduction.
        small = cv2.resize(patch, (max(1, w // 2), max(1, h // 2)), interpolation=cv2.INTER_AREA)
        k = max(3, min(w, h) // 2) | 1
        small = cv2.blur(small, (k, k))
        small = cv2.blur(small, (k, k))
        patch[:] = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    else:
        raise ValueError(f"unknown mask mode {mode!r}; expected one of {', '.join(MASK_MODES)}")
