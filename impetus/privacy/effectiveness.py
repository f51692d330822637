"""Does anonymisation work? Count faces with an independent second detector before and after.

The second detector is YuNet (libfacedetection, BSD-3, through the `yuface` wheel): a different
model family and training set from CenterFace, so it does not share its blind spots. It is an
x86_64 workstation tool (`pip install impetus[privacy-tools]`), never a device dependency.

A face counts at YuNet confidence >= 0.7. At 0.5 it also reports one out-of-focus background face
in zidane.jpg (confidence 0.61) that CenterFace misses at every threshold; `--independent-threshold
0.5` shows it, and the privacy officer's guide lists it as a known limit.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from impetus.privacy.anonymiser import AnonymiseError, Anonymiser, list_images, read_image

INDEPENDENT_THRESHOLD = 0.7
INDEPENDENT_DETECTOR = "yunet-libfacedetection (yuface 2023.5.1)"


class IndependentDetectorMissing(RuntimeError):
    pass


def independent_faces(image: np.ndarray, threshold: float = INDEPENDENT_THRESHOLD) -> list[list[int]]:
    """Faces YuNet finds: [x, y, w, h, confidence %] each."""
    try:
        import yuface
    except ImportError:
        raise IndependentDetectorMissing(
            "the independent face detector needs the yuface wheel (x86_64): "
            "pip install 'impetus[privacy-tools]'"
        ) from None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "image is large": it is what we want measured
        confidences, boxes, _ = yuface.detect(np.ascontiguousarray(image), threshold)
    return [[*map(int, box), int(conf)] for conf, box in zip(confidences, boxes, strict=True)]


@dataclass
class EffectivenessSummary:
    images: int = 0
    faces_before: int = 0
    faces_after: int = 0
    faces_masked_by_anonymiser: int = 0
    independent_detector: str = INDEPENDENT_DETECTOR
    independent_threshold: float = INDEPENDENT_THRESHOLD
    settings: dict[str, Any] = field(default_factory=dict)
    per_image: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def measure(
    anonymiser: Anonymiser,
    images: list[Path],
    *,
    threshold: float = INDEPENDENT_THRESHOLD,
    progress: Callable[[int, int], None] | None = None,
) -> EffectivenessSummary:
    summary = EffectivenessSummary(independent_threshold=threshold)
    summary.settings = {k: v for k, v in asdict(anonymiser.settings).items() if k != "threads"}
    for done, path in enumerate(images, start=1):
        image = read_image(path)
        before = independent_faces(image, threshold)
        masked, run = anonymiser.anonymise(image, path.name)
        after = independent_faces(masked, threshold)
        summary.images += 1
        summary.faces_before += len(before)
        summary.faces_after += len(after)
        summary.faces_masked_by_anonymiser += len(run.faces)
        summary.per_image.append(
            {"image": path.name, "before": len(before), "after": len(after), "after_boxes": after}
        )
        if progress:
            progress(done, len(images))
    return summary


def images_in(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise AnonymiseError(f"{folder}: expected a folder of images")
    images = list_images(folder)
    if not images:
        raise AnonymiseError(f"{folder}: no images in the folder")
    return images
