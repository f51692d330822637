"""Fit the gunshot decision head on generated clips (or on a city's own labelled recordings).

    python models/gunshot_head/train.py                      # synthetic train/test split (~3 min)
    python models/gunshot_head/train.py --wav-dir recordings # recalibrate on real WAVs

The head is a one-hidden-layer perceptron (or, with `--hidden 0`, a logistic regression), fitted
in numpy with class-balanced cross-entropy on the candidates the streaming pipeline produces, so
it is fitted on exactly what the detector will see. With
`--wav-dir`, the directory holds one sub-directory per kind: `gunshot/` (every impulse within 10 dB
of a file's loudest is a shot; fainter ones are ignored as echoes) and any other name (every
impulse is a negative). Files are WAV, 16-bit PCM, any rate (resampled), mono or stereo (mixed).
The threshold is set on a validation split (its own seeds, or 20 % of the recordings), never on
the test data, so that at most `--max-fpr` of its negative impulses pass.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
import wave
from collections import defaultdict
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from dataset import SAMPLE_RATE, SPLITS, candidates, kinds_for, make_clip  # noqa: E402

from impetus.edge_agent.audio import logmel  # noqa: E402
from impetus.edge_agent.audio.head import HEAD_CLASSES, GunshotHead, Layer, raw_features  # noqa: E402
from impetus.edge_agent.audio.impulse import SHAPE_FEATURES  # noqa: E402
from impetus.edge_agent.audio.stream import ImpulseStream  # noqa: E402
from impetus.edge_agent.audio.yamnet import Yamnet  # noqa: E402

ROOT = HERE.parent.parent
POST_ONSET_S = 0.1
SCREENED = ("rise_ms", "snr_db", "centroid_khz")
"""Shape features whose range over the training shots becomes the screen before YAMNet."""

Rows = tuple[np.ndarray, np.ndarray, list[str]]


def synthetic_rows(yamnet: Yamnet, split: str, clips: int, cache: Path | None = None) -> Rows:
    """Candidates of `clips` generated clips; with `cache`, reused from an earlier run."""
    cached = cache / f"{split}-{clips}.npz" if cache else None
    if cached and cached.is_file():
        saved = np.load(cached)
        return saved["x"], saved["y"], [str(k) for k in saved["kinds"]]
    features, labels, kinds = [], [], []
    for i in range(clips):
        rng = np.random.default_rng(SPLITS[split] + i)
        clip = make_clip(kinds_for(i), rng)
        stream = ImpulseStream(yamnet, SAMPLE_RATE, POST_ONSET_S)
        for candidate, label in candidates(clip, stream):
            if label is not None:
                features.append(raw_features(candidate, yamnet))
                labels.append(label)
                kinds.append(clip.kind)
    if cached:
        cached.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cached, x=np.array(features), y=np.array(labels), kinds=np.array(kinds))
    return np.array(features), np.array(labels), kinds


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path)) as handle:
        if handle.getsampwidth() != 2:
            raise SystemExit(f"{path}: {8 * handle.getsampwidth()}-bit samples; expected 16-bit PCM")
        rate, channels = handle.getframerate(), handle.getnchannels()
        data = np.frombuffer(handle.readframes(handle.getnframes()), np.int16).astype(np.float32) / 32768.0
    return logmel.resample(data.reshape(-1, channels).mean(axis=1), rate)


def wav_rows(yamnet: Yamnet, directory: Path) -> Rows:
    features, labels, kinds = [], [], []
    for folder in sorted(p for p in directory.iterdir() if p.is_dir()):
        for path in sorted(folder.glob("*.wav")):
            audio = read_wav(path)
            stream = ImpulseStream(yamnet, SAMPLE_RATE, POST_ONSET_S)
            found = stream.feed(audio) + stream.flush()
            loudest = max((c.impulse.peak_dbfs for c in found), default=0.0)
            for candidate in found:
                is_shot = folder.name == "gunshot"
                if is_shot and candidate.impulse.peak_dbfs < loudest - 10.0:
                    continue
                features.append(raw_features(candidate, yamnet))
                labels.append(int(is_shot))
                kinds.append(folder.name)
    if not labels or len(set(labels)) < 2:
        raise SystemExit(f"{directory}: need impulses in gunshot/ and in at least one negative folder")
    return np.array(features), np.array(labels), kinds


def balanced_weights(y: np.ndarray) -> np.ndarray:
    return np.where(y == 1, 0.5 / max(y.mean(), 1e-9), 0.5 / max(1 - y.mean(), 1e-9)) / len(y)


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-3, steps: int = 50) -> list[Layer]:
    """Class-balanced L2 logistic regression by Newton's method on standardised features."""
    n, d = x.shape
    design = np.hstack([x, np.ones((n, 1))])
    sample_weight = balanced_weights(y)
    penalty = np.full(d + 1, l2)
    penalty[-1] = 0.0
    w = np.zeros(d + 1)
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-np.clip(design @ w, -30, 30)))
        gradient = design.T @ (sample_weight * (p - y)) + penalty * w
        hessian = (design * (sample_weight * p * (1 - p))[:, None]).T @ design + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if float(np.max(np.abs(step))) < 1e-8:
            break
    return [(w[:-1, None], w[-1:])]


def fit_mlp(x: np.ndarray, y: np.ndarray, hidden: int, l2: float = 1e-3, steps: int = 3000) -> list[Layer]:
    """One ReLU hidden layer, class-balanced cross-entropy, full-batch Adam; seconds on a CPU."""
    rng = np.random.default_rng(0)
    d = x.shape[1]
    params = [
        rng.normal(0, np.sqrt(2 / d), (d, hidden)),
        np.zeros(hidden),
        rng.normal(0, np.sqrt(1 / hidden), (hidden, 1)),
        np.zeros(1),
    ]
    moments = [np.zeros_like(p) for p in params]
    squares = [np.zeros_like(p) for p in params]
    sample_weight = balanced_weights(y)
    for t in range(1, steps + 1):
        w1, b1, w2, b2 = params
        pre = x @ w1 + b1
        h = np.maximum(pre, 0.0)
        z = (h @ w2 + b2)[:, 0]
        error = sample_weight * (1.0 / (1.0 + np.exp(-np.clip(z, -30, 30))) - y)
        g_w2 = h.T @ error[:, None] + l2 * w2
        g_h = error[:, None] @ w2.T * (pre > 0)
        grads = [x.T @ g_h + l2 * w1, g_h.sum(axis=0), g_w2, error.sum(keepdims=True)]
        for i, g in enumerate(grads):
            moments[i] = 0.9 * moments[i] + 0.1 * g
            squares[i] = 0.999 * squares[i] + 0.001 * g * g
            params[i] -= 0.01 * (moments[i] / (1 - 0.9**t)) / (np.sqrt(squares[i] / (1 - 0.999**t)) + 1e-8)
    return [(params[0], params[1]), (params[2], params[3])]


def fit_screen(x: np.ndarray, y: np.ndarray, first_shape: int) -> tuple[tuple[str, float, float], ...]:
    """The range of each screened feature over the training shots (0.05-99.95 %), widened by a
    tenth on each side: a loose box that only impulses unlike any shot fall outside."""
    bounds = []
    for name in SCREENED:
        values = x[y == 1, first_shape + SHAPE_FEATURES.index(name)]
        low, high = np.quantile(values, [0.0005, 0.9995])
        margin = 0.1 * (high - low)
        bounds.append((name, float(low - margin), float(high + margin)))
    return tuple(bounds)


def admitted(head: GunshotHead, x: np.ndarray) -> np.ndarray:
    first_shape = len(head.classes)
    keep = np.ones(len(x), bool)
    for name, low, high in head.screen:
        values = x[:, first_shape + SHAPE_FEATURES.index(name)]
        keep &= (values >= low) & (values <= high)
    return keep


def evaluate(head: GunshotHead, rows: Rows) -> dict[str, dict[str, float]]:
    x, y, given = rows
    kinds = [f"{k}_echo" if k == "gunshot" and label == 0 else k for k, label in zip(given, y, strict=True)]
    scores = 0.5 + 0.5 * np.tanh(0.5 * head.logit(x))
    screened = admitted(head, x)
    passed = (scores >= head.threshold) & screened
    table: dict[str, dict[str, float]] = defaultdict(dict)
    for kind in sorted(set(kinds)):
        mask = np.array([k == kind for k in kinds])
        rate = float(passed[mask].mean())
        table[kind] = {
            "impulses": int(mask.sum()),
            "screened_out": float(1.0 - screened[mask].mean()),
            ("recall" if kind == "gunshot" else "false_positive_rate"): rate,
        }
    tp = int(np.sum(passed & (y == 1)))
    fp = int(np.sum(passed & (y == 0)))
    table["all"] = {
        "recall": tp / max(int(np.sum(y == 1)), 1),
        "precision": tp / max(tp + fp, 1),
        "false_positives": fp,
        "negative_impulses": int(np.sum(y == 0)),
    }
    return dict(table)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--train-clips", type=int, default=1000)
    parser.add_argument("--validation-clips", type=int, default=300, help="for the threshold")
    parser.add_argument("--test-clips", type=int, default=400)
    parser.add_argument("--wav-dir", type=Path, help="recalibrate on labelled recordings instead")
    parser.add_argument("--max-fpr", type=float, default=0.01, help="negative impulses allowed to pass")
    parser.add_argument("--out", type=Path, default=HERE / "gunshot_head.json")
    parser.add_argument("--hidden", type=int, default=32, help="hidden units; 0 for a logistic regression")
    parser.add_argument("--cache", type=Path, help="keep generated features here to refit quickly")
    args = parser.parse_args()
    yamnet = Yamnet(ROOT / "models" / "yamnet")
    began = time.monotonic()
    if args.wav_dir:
        train = wav_rows(yamnet, args.wav_dir)
        order = np.random.default_rng(0).permutation(len(train[1]))
        cuts = [int(0.6 * len(order)), int(0.8 * len(order))]
        pick = lambda rows, idx: (rows[0][idx], rows[1][idx], [rows[2][i] for i in idx])  # noqa: E731
        train, validation, test = (pick(train, part) for part in np.split(order, cuts))
        provenance = f"recalibrated on {args.wav_dir.name} ({len(order)} impulses, 60/20/20 split)"
    else:
        train = synthetic_rows(yamnet, "train", args.train_clips, args.cache)
        validation = synthetic_rows(yamnet, "validation", args.validation_clips, args.cache)
        test = synthetic_rows(yamnet, "test", args.test_clips, args.cache)
        provenance = (
            f"fitted on {args.train_clips} synthetic clips (models/gunshot_head/dataset.py, seeds "
            f"{SPLITS['train']}+), threshold on {args.validation_clips} validation clips (seeds "
            f"{SPLITS['validation']}+), tested on {args.test_clips} held-out clips (seeds {SPLITS['test']}+)"
        )
    x, y, _ = train
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    standard = (x - mean) / scale
    layers = fit_mlp(standard, y, args.hidden) if args.hidden else fit_logistic(standard, y)
    screen = fit_screen(x, y, len(HEAD_CLASSES))
    head = GunshotHead(
        HEAD_CLASSES, SHAPE_FEATURES, mean, scale, tuple(layers), 0.5, POST_ONSET_S, provenance, screen
    )
    x_val, y_val, _ = validation
    negative = (y_val == 0) & admitted(head, x_val)
    negatives = np.sort(0.5 + 0.5 * np.tanh(0.5 * head.logit(x_val[negative])))
    allowed = int(args.max_fpr * np.sum(y_val == 0))  # of all validation negatives, screened or not
    threshold = float(negatives[-allowed - 1]) if len(negatives) > allowed else 0.5
    head = dataclasses.replace(head, threshold=min(max(threshold, 0.5), 0.999))
    head.save(args.out)
    report = {
        "train": evaluate(head, train),
        "validation": evaluate(head, validation),
        "test": evaluate(head, test),
        "threshold": head.threshold,
    }
    report["seconds"] = round(time.monotonic() - began, 1)
    (args.out.with_suffix(".metrics.json")).write_text(json.dumps(report, indent=1) + "\n")
    print(f"{'kind':14s} {'impulses':>9s} {'recall / FPR':>13s}   (held-out test)")
    for kind, row in report["test"].items():
        if kind != "all":
            value = row.get("recall", row.get("false_positive_rate", 0.0))
            print(f"{kind:14s} {row['impulses']:9d} {value:13.3f}")
    print(json.dumps(report["test"]["all"]), f"threshold={head.threshold:.3f}", f"{report['seconds']} s")


if __name__ == "__main__":
    main()
