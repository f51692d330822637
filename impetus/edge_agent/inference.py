"""The one way detectors open an ONNX model, honouring the profile's execution providers.

A Jetson profile asks for TensorRT, then CUDA, then CPU; on a machine without them the session
falls back to what exists instead of failing, and says which provider it actually uses.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import onnxruntime as ort

log = logging.getLogger(__name__)


class ModelFileError(FileNotFoundError):
    """A model a detector needs is not where the profile says."""


def open_session(path: Path, providers: Sequence[str], threads: int = 1) -> ort.InferenceSession:
    if not path.is_file():
        raise ModelFileError(f"model file {path} not found (models ship in the repository under models/)")
    available = set(ort.get_available_providers())
    chosen = [p for p in providers if p in available] or ["CPUExecutionProvider"]
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), sess_options=options, providers=chosen)
    log.info("%s runs on %s (asked for %s)", path.name, session.get_providers()[0], list(providers))
    return session
