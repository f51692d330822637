"""The decision: a small numpy network (or a logistic regression) over YAMNet's scores for the
impulse-like classes and the impulse's shape, stored as JSON beside the model (`models/gunshot_head/`).

YAMNet alone confuses a far shot with a firework or a door slam; its class scores plus how sharp,
short and early-loaded the impulse is separate them better. The head names YAMNet classes by their
display name, so another YAMNet export with the same classes works unchanged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from impetus.edge_agent.audio.impulse import SHAPE_FEATURES, Impulse
from impetus.edge_agent.audio.stream import Candidate
from impetus.edge_agent.audio.yamnet import Yamnet
from impetus.edge_agent.inference import ModelFileError

HEAD_CLASSES: tuple[str, ...] = (
    "Gunshot, gunfire",
    "Machine gun",
    "Explosion",
    "Cap gun",
    "Fireworks",
    "Firecracker",
    "Burst, pop",
    "Boom",
    "Bang",
    "Crack",
    "Thump, thud",
    "Slap, smack",
    "Whip",
    "Door",
    "Slam",
    "Knock",
    "Clapping",
    "Hammer",
    "Wood block",
    "Snare drum",
    "Drum",
    "Percussion",
    "Speech",
    "Music",
    "Rain",
    "Engine",
    "Vehicle",
    "Ping",
    "Clang",
    "Silence",
)
LOGIT_CLIP = 20.0


Layer = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class GunshotHead:
    """Standardised features through dense layers (ReLU between them, a sigmoid at the end): one
    layer is a logistic regression, two a small multilayer perceptron. Numpy only."""

    classes: tuple[str, ...]
    shape_features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    layers: tuple[Layer, ...]
    threshold: float
    post_onset_s: float
    provenance: str = ""
    screen: tuple[tuple[str, float, float], ...] = ()
    """(shape feature, lowest, highest) that a shot's impulse has: an impulse outside any of these
    ranges is rejected before YAMNet runs, which is where most of the detector's time goes."""
    burst_threshold: float | None = None
    """The score an impulse needs within a burst, after a shot was confirmed (None: `threshold`).
    The first shot carries the false-alarm rate; a shot ringing in the previous one's reverberation
    scores lower, and a street's look-alike rarely follows a confirmed shot within seconds."""

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(f"yamnet:{c}" for c in self.classes) + self.shape_features

    def features(self, candidate: Candidate, yamnet: Yamnet) -> np.ndarray:
        """The head's own feature vector: a head fitted before newer shape features were added
        reads only the ones it knows (they come first)."""
        return raw_features(candidate, yamnet, self.classes)[: len(self.feature_names)]

    def admits(self, impulse: Impulse) -> bool:
        """Whether the impulse's shape is within the screen, so it is worth classifying."""
        return all(
            low <= float(impulse.shape[SHAPE_FEATURES.index(name)]) <= high for name, low, high in self.screen
        )

    def logit(self, features: np.ndarray) -> np.ndarray:
        """Pre-sigmoid output for one feature vector or a (n, d) batch."""
        h = (features - self.mean) / self.scale
        for i, (weights, bias) in enumerate(self.layers):
            h = h @ weights + bias
            if i < len(self.layers) - 1:
                h = np.maximum(h, 0.0)
        return h[..., 0]

    def scores(self, features: np.ndarray) -> np.ndarray:
        """Sigmoid of the logit (as tanh, which does not overflow) for a (n, d) batch."""
        return 0.5 + 0.5 * np.tanh(0.5 * self.logit(features))

    def score(self, features: np.ndarray) -> float:
        return float(self.scores(features))

    def save(self, path: Path) -> None:
        rounded = lambda a: np.round(np.asarray(a, np.float64), 6).tolist()  # noqa: E731
        document = {
            "kind": "impetus.gunshot_head/1",
            "provenance": self.provenance,
            "post_onset_s": self.post_onset_s,
            "threshold": self.threshold,
            "classes": list(self.classes),
            "shape_features": list(self.shape_features),
            "mean": rounded(self.mean),
            "scale": rounded(self.scale),
            "layers": [{"weights": rounded(w), "bias": rounded(b)} for w, b in self.layers],
            "screen": [[name, round(low, 4), round(high, 4)] for name, low, high in self.screen],
        }
        if self.burst_threshold is not None:
            document["burst_threshold"] = self.burst_threshold
        path.write_text(json.dumps(document, indent=1) + "\n")

    @classmethod
    def load(cls, path: Path) -> GunshotHead:
        if not path.is_file():
            raise ModelFileError(f"gunshot head {path} not found (models/gunshot_head/train.py writes it)")
        doc = json.loads(path.read_text())
        if doc.get("kind") != "impetus.gunshot_head/1":
            raise ValueError(f"{path}: kind {doc.get('kind')!r} is not 'impetus.gunshot_head/1'")
        layers = tuple(
            (np.asarray(layer["weights"], np.float64), np.asarray(layer["bias"], np.float64))
            for layer in doc["layers"]
        )
        head = cls(
            classes=tuple(doc["classes"]),
            shape_features=tuple(doc["shape_features"]),
            mean=np.asarray(doc["mean"], np.float64),
            scale=np.asarray(doc["scale"], np.float64),
            layers=layers,
            threshold=float(doc["threshold"]),
            post_onset_s=float(doc["post_onset_s"]),
            provenance=str(doc.get("provenance", "")),
            screen=tuple((str(name), float(low), float(high)) for name, low, high in doc.get("screen", [])),
            burst_threshold=float(doc["burst_threshold"]) if "burst_threshold" in doc else None,
        )
        n = len(head.feature_names)
        widths = [n] + [w.shape[1] for w, _ in layers]
        shapes_ok = all(
            w.shape == (a, b) and bb.shape == (b,)
            for (w, bb), a, b in zip(layers, widths[:-1], widths[1:], strict=True)
        )
        unknown = [name for name, _, _ in head.screen if name not in head.shape_features]
        if unknown:
            raise ValueError(f"{path}: the screen names {unknown}, not among its shape features")
        if (
            head.shape_features != SHAPE_FEATURES[: len(head.shape_features)]
            or len(head.mean) != n
            or not (layers and shapes_ok and widths[-1] == 1)
        ):
            raise ValueError(f"{path}: layers do not fit this runtime's {n} features and one output")
        return head


def raw_features(candidate: Candidate, yamnet: Yamnet, classes: tuple[str, ...] = HEAD_CLASSES) -> np.ndarray:
    """The feature vector of one candidate: clipped YAMNet logits of `classes`, then its shape."""
    logits = np.clip(candidate.logits[[yamnet.index(c) for c in classes]], -LOGIT_CLIP, LOGIT_CLIP)
    return np.concatenate([logits, candidate.impulse.shape]).astype(np.float64)
