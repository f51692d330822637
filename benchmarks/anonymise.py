"""Anonymiser: frames/s of detection + masking on one core, and recall per setting.

- speed: CenterFace (faces) alone and with the PP-OCR plate detector, plus the mask, on frames of
  640x360 and 1280x720 cut from the public test photos; onnxruntime limited to one thread.
- recall: the share of faces an independent detector (YuNet via yuface) finds before anonymisation
  that it no longer finds afterwards, per face threshold, margin and mask mode, on the test photos
  at three scales and mirrored (18 images). Counted at YuNet confidence 0.7 (the effectiveness
  default) and 0.5.
- plates: the one real photograph of a licence plate that can be had offline (Debian's
  `opencv-doc`, `licenseplate_motion.jpg`: a motion-blurred car seen from behind; `./dev bench`
  installs the package), at three scales and mirrored: the share of the hand-labelled plate that
  the masks cover at the default setting, and how many other regions were masked beside it.

    .venv/bin/python benchmarks/anonymise.py [--frames 20]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import cv2
import numpy as np

from impetus.privacy.anonymiser import Anonymiser, AnonymiserSettings
from impetus.privacy.effectiveness import independent_faces
from impetus.privacy.faces import CenterFace
from impetus.privacy.masks import apply_mask, grow
from impetus.privacy.test_media import PLATE_BOX, TestMediaUnavailable, face_photos, plate_photo

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "anonymise.json"
SIZES = ((640, 360), (1280, 720))
THRESHOLDS = (0.1, 0.2, 0.4, 0.6, 0.8)
MARGINS = (1.0, 1.3, 1.6)
MODES = ("blur", "pixelate", "solid")
COVERED = 0.9


def frame_of(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Centre-crop to the aspect of `size`, then resize."""
    w, h = size
    ih, iw = image.shape[:2]
    if iw / ih > w / h:
        cw = round(ih * w / h)
        image = image[:, (iw - cw) // 2 : (iw - cw) // 2 + cw]
    else:
        ch = round(iw * h / w)
        image = image[(ih - ch) // 2 : (ih - ch) // 2 + ch]
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def speed(photos: list[np.ndarray], frames: int) -> list[dict[str, object]]:
    rows = []
    for plates in (False, True):
        anonymiser = Anonymiser(AnonymiserSettings(plates=plates, threads=1))
        for size in SIZES:
            batch = [frame_of(photos[i % len(photos)], size) for i in range(frames)]
            anonymiser.anonymise(batch[0])  # warm-up
            start = time.perf_counter()
            for frame in batch:
                anonymiser.anonymise(frame)
            elapsed = time.perf_counter() - start
            rows.append(
                {
                    "size": f"{size[0]}x{size[1]}",
                    "detectors": "faces + plates" if plates else "faces",
                    "ms_per_frame": round(1000 * elapsed / frames, 1),
                    "fps": round(frames / elapsed, 1),
                }
            )
    return rows


def test_images(photos: list[np.ndarray]) -> list[np.ndarray]:
    out = []
    for photo in photos:
        for scale in (1.0, 0.75, 0.5):
            scaled = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            out += [scaled, cv2.flip(scaled, 1)]
    return out


def recall(images: list[np.ndarray]) -> list[dict[str, object]]:
    faces = CenterFace()
    before = {conf: [independent_faces(img, conf) for img in images] for conf in (0.7, 0.5)}
    rows = []
    for threshold in THRESHOLDS:
        boxes = [faces.detect(img, threshold) for img in images]
        for margin in MARGINS:
            for mode in MODES:
                row: dict[str, object] = {"threshold": threshold, "margin": margin, "mode": mode}
                masked = []
                for img, found in zip(images, boxes, strict=True):
                    out = img.copy()
                    for box in found:
                        apply_mask(out, grow(box, margin, out.shape), mode)  # type: ignore[arg-type]
                    masked.append(out)
                for conf in (0.7, 0.5):
                    total = sum(len(b) for b in before[conf])
                    left = sum(len(independent_faces(m, conf)) for m in masked)
                    row[f"faces_before@{conf}"] = total
                    row[f"faces_after@{conf}"] = left
                    row[f"recall@{conf}"] = round(1 - left / total, 3) if total else None
                rows.append(row)
    return rows


def plate_coverage() -> list[dict[str, object]]:
    """Per scale and mirroring: the share of the plate's pixels under a mask, and the masked
    regions that do not touch the plate (text on the car, lights)."""
    photo = cv2.imread(str(plate_photo()))
    anonymiser = Anonymiser(AnonymiserSettings())
    rows = []
    for scale in (1.0, 0.75, 0.5):
        for mirrored in (False, True):
            image = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            x1, y1, x2, y2 = (round(v * scale) for v in PLATE_BOX)
            if mirrored:
                image = cv2.flip(image, 1)
                x1, x2 = image.shape[1] - x2, image.shape[1] - x1
            _, run = anonymiser.anonymise(image)
            covered = np.zeros(image.shape[:2], bool)
            elsewhere = 0
            for box in run.plates + run.faces:
                gx1, gy1, gx2, gy2 = grow(np.array(box), anonymiser.settings.margin, image.shape)
                covered[gy1:gy2, gx1:gx2] = True
                elsewhere += gx2 <= x1 or gx1 >= x2 or gy2 <= y1 or gy1 >= y2
            share = float(covered[y1:y2, x1:x2].mean())
            rows.append(
                {
                    "scale": scale,
                    "mirrored": mirrored,
                    "plate_covered": round(share, 3),
                    "masked": share >= COVERED,
                    "other_regions_masked": elsewhere,
                }
            )
    return rows


def table(rows: list[dict[str, object]]) -> str:
    keys = list(rows[0])
    widths = [max(len(k), *(len(str(r[k])) for r in rows)) for k in keys]
    lines = ["  ".join(k.ljust(w) for k, w in zip(keys, widths, strict=True))]
    lines += ["  ".join(str(r[k]).ljust(w) for k, w in zip(keys, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=20, help="frames per speed measurement")
    args = parser.parse_args()
    photos = [cv2.imread(str(p)) for p in face_photos()]
    speed_rows = speed(photos, args.frames)
    print("Anonymisation speed, one core (onnxruntime intra_op_num_threads=1)")
    print(table(speed_rows))
    recall_rows = recall(test_images(photos))
    print("\nRecall per setting (share of independently found faces gone after anonymisation, 18 images)")
    print(table(recall_rows))
    try:
        plate_rows = plate_coverage()
        print(f"\nThe real plate at the default setting (masked: >= {COVERED:.0%} covered)")
        print(table(plate_rows))
    except TestMediaUnavailable as missing:
        plate_rows = []
        print(f"\nplates not measured: {missing}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "machine": platform.processor() or platform.machine(),
                "speed": speed_rows,
                "recall": recall_rows,
                "plates": plate_rows,
            },
            indent=2,
        )
    )
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
