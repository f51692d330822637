"""The anonymiser every image that may leave a device passes through, and the redaction tool a
city runs on footage before disclosing it: find faces (and plate-shaped text), mask them.

Each run returns an `AnonymisationRun`: what was found and masked, by which model version, at
which threshold, margin and mask mode - what the audit log records.

>>> anonymiser = Anonymiser(AnonymiserSettings())
>>> masked, run = anonymiser.anonymise(bgr_image)
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from impetus.privacy.faces import DEFAULT_FACE_THRESHOLD, CenterFace
from impetus.privacy.masks import DEFAULT_MARGIN, MASK_MODES, MaskMode, apply_mask, grow
from impetus.privacy.persons import DEFAULT_PERSON_THRESHOLD, PersonDetector
from impetus.privacy.plates import DEFAULT_PLATE_THRESHOLD, PlateDetector

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".m4v")


class AnonymiseError(ValueError):
    """Input or settings that cannot be anonymised; the message says what was expected."""


@dataclass(frozen=True)
class AnonymiserSettings:
    face_threshold: float = DEFAULT_FACE_THRESHOLD
    margin: float = DEFAULT_MARGIN
    mode: MaskMode = "blur"
    plates: bool = True
    plate_threshold: float = DEFAULT_PLATE_THRESHOLD
    persons: bool = False
    person_threshold: float = DEFAULT_PERSON_THRESHOLD
    threads: int = 0

    def __post_init__(self) -> None:
        if not 0.0 < self.face_threshold < 1.0:
            raise AnonymiseError(f"face_threshold must be in (0, 1), got {self.face_threshold}")
        if self.margin < 1.0:
            raise AnonymiseError(f"margin must be >= 1.0 (1.3 grows each box by 30 %), got {self.margin}")
        if self.mode not in MASK_MODES:
            raise AnonymiseError(f"mode must be one of {', '.join(MASK_MODES)}, got {self.mode!r}")


@dataclass
class AnonymisationRun:
    """One image's anonymisation, as the audit log keeps it (no pixels, only boxes and settings)."""

    source: str
    width: int
    height: int
    faces: list[list[float]] = field(default_factory=list)
    plates: list[list[float]] = field(default_factory=list)
    persons: list[list[float]] = field(default_factory=list)
    masked: int = 0
    settings: dict[str, Any] = field(default_factory=dict)
    models: dict[str, str] = field(default_factory=dict)
    output_sha256: str | None = None

    def as_record(self) -> dict[str, Any]:
        return asdict(self)


def _rounded(boxes: np.ndarray) -> list[list[float]]:
    return [[round(float(v), 3) for v in box] for box in boxes]


class Anonymiser:
    def __init__(self, settings: AnonymiserSettings | None = None) -> None:
        self.settings = settings or AnonymiserSettings()
        self.faces = CenterFace(threads=self.settings.threads)
        self.plates = PlateDetector(threads=self.settings.threads) if self.settings.plates else None
        self.persons = PersonDetector(threads=self.settings.threads) if self.settings.persons else None

    def anonymise(self, image: np.ndarray, source: str = "frame") -> tuple[np.ndarray, AnonymisationRun]:
        if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
            got = getattr(image, "shape", type(image).__name__)
            raise AnonymiseError(f"{source}: expected a BGR image HxWx3, got {got}")
        s = self.settings
        faces = self.faces.detect(image, s.face_threshold)
        none = np.zeros((0, 5), np.float32)
        plates = self.plates.detect(image, s.plate_threshold) if self.plates else none
        persons = self.persons.detect(image, s.person_threshold) if self.persons else none
        out = image.copy()
        for box in (*persons, *faces, *plates):
            apply_mask(out, grow(box, s.margin, out.shape), s.mode)
        models = {"faces": self.faces.version}
        if self.plates:
            models["plates"] = self.plates.version
        if self.persons:
            models["persons"] = self.persons.version
        run = AnonymisationRun(
            source=source,
            width=image.shape[1],
            height=image.shape[0],
            faces=_rounded(faces),
            plates=_rounded(plates),
            persons=_rounded(persons),
            masked=len(faces) + len(plates) + len(persons),
            settings={k: v for k, v in asdict(s).items() if k != "threads"},
            models=models,
            output_sha256=hashlib.sha256(out.tobytes()).hexdigest(),
        )
        return out, run


def read_image(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise AnonymiseError(f"{path}: not an image OpenCV can read (expected {', '.join(IMAGE_SUFFIXES)})")
    return image


def list_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


Progress = Callable[[int, int], None]


def anonymise_path(
    anonymiser: Anonymiser, source: Path, target: Path, progress: Progress | None = None
) -> Iterator[AnonymisationRun]:
    """Anonymise an image, a folder of images or a video into `target`; yields one run per image
    or frame. `progress(done, total)` is called after each."""
    if source.is_dir():
        images = list_images(source)
        if not images:
            raise AnonymiseError(f"{source}: no images ({', '.join(IMAGE_SUFFIXES)}) in the folder")
        if target.exists() and not target.is_dir():
            raise AnonymiseError(f"{target}: expected a folder for the anonymised copies of {source}")
        target.mkdir(parents=True, exist_ok=True)
        for done, path in enumerate(images, start=1):
            out, run = anonymiser.anonymise(read_image(path), path.name)
            _write_image(target / path.name, out)
            yield run
            if progress:
                progress(done, len(images))
        return
    if not source.is_file():
        raise AnonymiseError(f"{source}: no such file or folder")
    suffix = source.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        out, run = anonymiser.anonymise(read_image(source), source.name)
        if target.is_dir():
            target = target / source.name
        _write_image(target, out)
        yield run
        if progress:
            progress(1, 1)
        return
    if suffix in VIDEO_SUFFIXES:
        yield from _anonymise_video(anonymiser, source, target, progress)
        return
    raise AnonymiseError(
        f"{source}: unsupported input; expected an image ({', '.join(IMAGE_SUFFIXES)}), "
        f"a video ({', '.join(VIDEO_SUFFIXES)}) or a folder of images"
    )


def _write_image(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), image):
        raise AnonymiseError(f"{path}: could not write the image (is the suffix an image format?)")


def _anonymise_video(
    anonymiser: Anonymiser, source: Path, target: Path, progress: Progress | None
) -> Iterator[AnonymisationRun]:
    capture = cv2.VideoCapture(str(source))
    if not capture.isOpened():
        raise AnonymiseError(f"{source}: OpenCV cannot open this video")
    if target.is_dir():
        target = target / source.name
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or 0
    width, height = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    target.parent.mkdir(parents=True, exist_ok=True)
    codec = "mp4v" if target.suffix.lower() in (".mp4", ".m4v", ".mov") else "MJPG"
    fourcc = cv2.VideoWriter.fourcc(*codec)
    writer = cv2.VideoWriter(str(target), fourcc, fps, (width, height))
    if not writer.isOpened():
        capture.release()
        raise AnonymiseError(f"{target}: OpenCV cannot write a video here (use .mp4 or .avi)")
    try:
        index = 0
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            out, run = anonymiser.anonymise(frame, f"{source.name}#{index}")
            writer.write(out)
            index += 1
            yield run
            if progress:
                progress(index, max(total, index))
    finally:
        capture.release()
        writer.release()
