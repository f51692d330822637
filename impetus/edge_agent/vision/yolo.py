"""The object detector backend: YOLOv3-tiny (COCO) through onnxruntime.

The ONNX file decodes its own heads (see `models/yolov3_tiny/yolov3_tiny.md`), so this module only
letterboxes the frame, runs the session, keeps the classes we care about and applies class-aware
non-maximum suppression. Boxes come back normalised to the frame (0..1), origin top left.

    detector = YoloDetector.open(Path("models/yolov3_tiny/yolov3_tiny_int8.onnx"))
    for box in detector.detect(frame_bgr):
        print(box.class_name, box.score, box.bottom_centre)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from impetus.edge_agent.inference import open_session

COCO_CLASSES_OF_INTEREST: dict[int, str] = {
    0: "person",
    1: "bicycle",
    2: "car",
    3: "motorbike",
    5: "bus",
    7: "truck",
    24: "backpack",
    25: "umbrella",
    26: "handbag",
    28: "suitcase",
}
STRIDE = 32
PAD_GREY = 127


@dataclass(frozen=True, slots=True)
class ObjectBox:
    """One detection in normalised frame coordinates (x1, y1 top left; x2, y2 bottom right)."""

    class_name: str
    score: float
    x1: float
    y1: float
    x2: float
    y2: float

    @property
    def w(self) -> float:
        return self.x2 - self.x1

    @property
    def h(self) -> float:
        return self.y2 - self.y1

    @property
    def centre(self) -> tuple[float, float]:
        return (self.x1 + self.x2) / 2, (self.y1 + self.y2) / 2

    @property
    def bottom_centre(self) -> tuple[float, float]:
        """Where the object touches the ground: what zone membership is judged by (as in Frigate)."""
        return (self.x1 + self.x2) / 2, self.y2

    def iou(self, other: ObjectBox) -> float:
        ix = max(0.0, min(self.x2, other.x2) - max(self.x1, other.x1))
        iy = max(0.0, min(self.y2, other.y2) - max(self.y1, other.y1))
        inter = ix * iy
        union = self.w * self.h + other.w * other.h - inter
        return inter / union if union > 0 else 0.0


class DetectorInputError(ValueError):
    """A frame the detector cannot use."""


def input_size_for(frame_w: int, frame_h: int, input_width: int) -> tuple[int, int]:
    """Model input (width, height) for a frame: the given width, the height the aspect needs rounded up
    to a multiple of 32, never taller than square. A 16:9 frame at 416 wide runs at 416x256."""
    if input_width % STRIDE or input_width <= 0:
        raise DetectorInputError(f"input_width {input_width} must be a positive multiple of {STRIDE}")
    height = math.ceil(input_width * min(frame_h / frame_w, 1.0) / STRIDE) * STRIDE
    return input_width, max(STRIDE, height)


@dataclass(frozen=True, slots=True)
class Letterbox:
    scale: float
    left: int
    top: int
    input_w: int
    input_h: int


def letterbox(image_bgr: np.ndarray, input_w: int, input_h: int) -> tuple[np.ndarray, Letterbox]:
    """Resize keeping the aspect, pad with grey, to NCHW RGB float32 in 0..1."""
    h, w = image_bgr.shape[:2]
    scale = min(input_w / w, input_h / h)
    new_w, new_h = round(w * scale), round(h * scale)
    left, top = (input_w - new_w) // 2, (input_h - new_h) // 2
    canvas = np.full((input_h, input_w, 3), PAD_GREY, dtype=np.uint8)
    canvas[top : top + new_h, left : left + new_w] = cv2.resize(
        image_bgr, (new_w, new_h), interpolation=cv2.INTER_AREA
    )
    blob = canvas[:, :, ::-1].transpose(2, 0, 1)[None].astype(np.float32) / 255.0
    return blob, Letterbox(scale, left, top, input_w, input_h)


class YoloDetector:
    """Runs the exported YOLOv3-tiny; counts its runs so the motion gate's saving can be measured."""

    def __init__(
        self,
        session: ort.InferenceSession,
        input_width: int = 416,
        score_threshold: float = 0.3,
        nms_iou: float = 0.45,
        nested: float = 0.85,
        classes: Mapping[int, str] = COCO_CLASSES_OF_INTEREST,
    ) -> None:
        names = {o.name for o in session.get_outputs()}
        if not {"boxes", "scores"} <= names:
            raise DetectorInputError(f"model outputs {sorted(names)}; expected 'boxes' and 'scores'")
        self.session = session
        self.input_width = input_width
        self.score_threshold = score_threshold
        self.nms_iou = nms_iou
        self.nested = nested
        self.class_ids = np.array(sorted(classes), dtype=np.int64)
        self.class_names = [classes[i] for i in self.class_ids]
        self.calls = 0

    @classmethod
    def open(
        cls,
        path: Path,
        providers: Sequence[str] = ("CPUExecutionProvider",),
        threads: int = 1,
        **settings: float,
    ) -> YoloDetector:
        return cls(open_session(path, providers, threads=threads), **settings)  # type: ignore[arg-type]

    def detect(self, image_bgr: np.ndarray) -> list[ObjectBox]:
        if image_bgr.ndim != 3 or image_bgr.shape[2] != 3 or image_bgr.dtype != np.uint8:
            raise DetectorInputError(
                f"frame of shape {image_bgr.shape} and dtype {image_bgr.dtype}; expected BGR uint8 (H, W, 3)"
            )
        frame_h, frame_w = image_bgr.shape[:2]
        blob, box = letterbox(image_bgr, *input_size_for(frame_w, frame_h, self.input_width))
        boxes, scores = self.session.run(["boxes", "scores"], {"images": blob})
        self.calls += 1
        return self._decode(boxes[0], scores[0][:, self.class_ids], box, frame_w, frame_h)

    def _decode(
        self, boxes: np.ndarray, scores: np.ndarray, box: Letterbox, frame_w: int, frame_h: int
    ) -> list[ObjectBox]:
        best = scores.argmax(axis=1)
        best_score = scores[np.arange(len(best)), best]
        keep = best_score >= self.score_threshold
        if not keep.any():
            return []
        boxes, best, best_score = boxes[keep], best[keep], best_score[keep]
        # From input-normalised centre/size to frame pixels, undoing the letterbox.
        cx = (boxes[:, 0] * box.input_w - box.left) / box.scale
        cy = (boxes[:, 1] * box.input_h - box.top) / box.scale
        bw = boxes[:, 2] * box.input_w / box.scale
        bh = boxes[:, 3] * box.input_h / box.scale
        x1 = np.clip(cx - bw / 2, 0, frame_w)
        y1 = np.clip(cy - bh / 2, 0, frame_h)
        x2 = np.clip(cx + bw / 2, 0, frame_w)
        y2 = np.clip(cy + bh / 2, 0, frame_h)
        rects = np.stack([x1, y1, x2 - x1, y2 - y1], axis=1)
        kept = cv2.dnn.NMSBoxesBatched(
            rects.tolist(), best_score.tolist(), best.tolist(), self.score_threshold, self.nms_iou
        )
        out = []
        for i in np.asarray(kept, dtype=np.int64).reshape(-1):
            out.append(
                ObjectBox(
                    class_name=self.class_names[best[i]],
                    score=float(best_score[i]),
                    x1=float(x1[i] / frame_w),
                    y1=float(y1[i] / frame_h),
                    x2=float(x2[i] / frame_w),
                    y2=float(y2[i] / frame_h),
                )
            )
        return self._drop_nested(sorted(out, key=lambda b: -b.score))

    def _drop_nested(self, boxes: list[ObjectBox]) -> list[ObjectBox]:
        """YOLOv3-tiny often answers a close person with a second, narrower box inside the first;
        IoU-based NMS keeps both. Of two boxes of a class where one lies almost wholly inside the
        other, keep the better-scored one."""
        kept: list[ObjectBox] = []
        for box in boxes:
            nested = (max(_inside(box, k), _inside(k, box)) for k in kept if k.class_name == box.class_name)
            if max(nested, default=0.0) <= self.nested:
                kept.append(box)
        return kept


def _inside(inner: ObjectBox, outer: ObjectBox) -> float:
    """Share of `inner`'s area that lies inside `outer`."""
    ix = max(0.0, min(inner.x2, outer.x2) - max(inner.x1, outer.x1))
    iy = max(0.0, min(inner.y2, outer.y2) - max(inner.y1, outer.y1))
    area = inner.w * inner.h
    return ix * iy / area if area > 0 else 1.0
