"""The quantised YAMNet classifier: a log-mel patch in, 521 AudioSet class probabilities out.

The model file and its quantisation constants come from `models/yamnet/` (see its model card);
any other YAMNet export with the same input/output can replace it, which is how a city whose
legal review wants its own export swaps it in.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from impetus.edge_agent.audio.logmel import MEL_BANDS, PATCH_FRAMES
from impetus.edge_agent.inference import ModelFileError, open_session

MODEL_FILE = "yamnet_w8a8.onnx"
CLASS_MAP_FILE = "yamnet_class_map.csv"
QUANTISATION_FILE = "yamnet_quantisation.json"


class Yamnet:
    """Example::

    yamnet = Yamnet(models_dir / "yamnet")
    probs = yamnet.probabilities(logmel.patch(audio_16k))
    print(yamnet.class_names[int(probs.argmax())])
    """

    def __init__(self, directory: Path, providers: Sequence[str] = ("CPUExecutionProvider",)) -> None:
        self.session = open_session(directory / MODEL_FILE, providers)
        for needed in (CLASS_MAP_FILE, QUANTISATION_FILE):
            if not (directory / needed).is_file():
                raise ModelFileError(f"{directory / needed} not found (run models/yamnet/extract.py)")
        with (directory / CLASS_MAP_FILE).open(newline="") as handle:
            self.class_names: list[str] = [row["display_name"] for row in csv.DictReader(handle)]
        quant = json.loads((directory / QUANTISATION_FILE).read_text())
        self._in_scale = float(quant["audio_scale"])
        self._in_zero = float(quant["audio_zero_point"])
        self._out_scale = float(quant["class_scores_scale"])
        self._out_zero = float(quant["class_scores_zero_point"])
        self._input = self.session.get_inputs()[0].name

    def index(self, name: str) -> int:
        try:
            return self.class_names.index(name)
        except ValueError:
            raise KeyError(f"{name!r} is not a YAMNet class (see {CLASS_MAP_FILE})") from None

    def logits(self, patch: np.ndarray) -> np.ndarray:
        """(521,) class logits of one (96, 64) log-mel patch."""
        if patch.shape != (PATCH_FRAMES, MEL_BANDS):
            raise ValueError(f"expected a ({PATCH_FRAMES}, {MEL_BANDS}) log-mel patch, got {patch.shape}")
        quantised = np.clip(np.round(patch / self._in_scale + self._in_zero), 0, 255).astype(np.uint8)
        (raw,) = self.session.run(None, {self._input: quantised[None, None]})
        return (self._out_scale * (raw.reshape(-1).astype(np.float32) - self._out_zero)).astype(np.float32)

    def probabilities(self, patch: np.ndarray) -> np.ndarray:
        """(521,) independent class probabilities (YAMNet is multi-label: a sigmoid per class)."""
        return (0.5 + 0.5 * np.tanh(0.5 * self.logits(patch))).astype(np.float32)
