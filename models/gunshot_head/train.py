"""Fit the gunshot decision head on generated clips and streets (or on a city's own recordings).

    python models/gunshot_head/train.py --cache DIR          # synthetic splits (~25 min, refits ~8)
    python models/gunshot_head/train.py --wav-dir recordings # recalibrate on real WAVs
    python models/gunshot_head/fit_burst_threshold.py        # then: the threshold within a burst

The head is a one-hidden-layer perceptron (or, with `--hidden 0`, a logistic regression), fitted
in numpy with class-balanced cross-entropy on the candidates the streaming pipeline produces, so
it is fitted on exactly what the detector will see: the clips' shots and hard negatives, and
every impulse of `--street-hours` of synthetic urban background. With
`--wav-dir`, the directory holds one sub-directory per kind: `gunshot/` (every impulse within 10 dB
of a file's loudest is a shot; fainter ones are ignored as echoes) and any other name (every
impulse is a negative). Files are WAV, 16-bit PCM, any rate (resampled), mono or stereo (mixed).
The threshold is set on a validation split (its own seeds, or 20 % of the recordings), never on
the test data, so that at most `--max-fpr` of its clips' negative impulses pass and, on the
synthetic splits, at most `--max-alarms-per-day` of the validation street's.
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

from dataset import SAMPLE_RATE, SPLITS, Street, candidates, kinds_for, make_clip  # noqa: E402

from impetus.edge_agent.audio import logmel  # noqa: E402
from impetus.edge_agent.audio.head import HEAD_CLASSES, GunshotHead, Layer, raw_features  # noqa: E402
from impetus.edge_agent.audio.impulse import SHAPE_FEATURES  # noqa: E402
from impetus.edge_agent.audio.stream import ImpulseStream  # noqa: E402
from impetus.edge_agent.audio.yamnet import Yamnet  # noqa: E402

ROOT = HERE.parent.parent
POST_ONSET_S = 0.1
SCREENED = ("rise_ms", "snr_db", "centroid_khz")
"""Shape features whose range over the training shots becomes the screen before YAMNet."""

STREET_SEEDS = 500_000
"""Street streams of a split draw from SPLITS[split] + this (the benchmark's street is bench + 777 777)."""
STREET_BLOCK = 1600

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


def street_rows(yamnet: Yamnet, split: str, hours: int, cache: Path | None = None) -> Rows:
    """Every impulse the gate finds in `hours` of mixed urban background (`dataset.Street`), each
    hour from its own street with its own pool of door slams, balloon pops, claps and hammering:
    all negatives. Tens of thousands of them a day, where the clips give a few hundred per kind,
    so the head meets the tail of everyday sounds it must not take for a shot (hard-negative
    mining), and the threshold can be set on a false-alarm rate per day rather than per impulse."""
    cached = cache / f"street-{split}-{hours}.npz" if cache else None
    if cached and cached.is_file():
        saved = np.load(cached)
        return saved["x"], saved["y"], ["street"] * len(saved["y"])
    features = []
    for hour in range(hours):
        street = Street(np.random.default_rng(SPLITS[split] + STREET_SEEDS + hour))
        stream = ImpulseStream(yamnet, SAMPLE_RATE, POST_ONSET_S)
        for chunk in street.chunks(1.0):
            for k in range(0, len(chunk), STREET_BLOCK):
                features += [raw_features(c, yamnet) for c in stream.feed(chunk[k : k + STREET_BLOCK])]
        print(f"\r{split} street: {hour + 1}/{hours} h, {len(features)} impulses", end="", file=sys.stderr)
    print(file=sys.stderr)
    x, y = np.array(features).reshape(-1, len(HEAD_CLASSES) + len(SHAPE_FEATURES)), np.zeros(len(features))
    if cached:
        cached.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cached, x=x, y=y)
    return x, y, ["street"] * len(y)


def joined(*parts: Rows) -> Rows:
    return (
        np.concatenate([p[0] for p in parts]),
        np.concatenate([p[1] for p in parts]),
        [k for p in parts for k in p[2]],
    )


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


def balanced_weights(
    y: np.ndarray, street: np.ndarray | None = None, street_share: float = 0.85
) -> np.ndarray:
    """Shots weigh half; negatives the other half, `street_share` of it for the street's impulses
    when there are both. The street's tail (a clap or a hammer blow that looks like a distant shot)
    is what sets a threshold for one false alarm a day, so it weighs most; the clips' firecrackers
    and fireworks keep the rest so they are not drowned by the street's numbers."""
    positive = y == 1
    weights = np.where(positive, 0.5 / max(positive.sum(), 1), 0.0)
    if street is None or not street.any():
        shares = [(~positive, 1.0)]
    else:
        shares = [(~positive & ~street, 1.0 - street_share), (~positive & street, street_share)]
    for group, share in shares:
        weights[group] = 0.5 * share / max(group.sum(), 1)
    return weights


def fit_logistic(
    x: np.ndarray, y: np.ndarray, street: np.ndarray, l2: float = 1e-3, steps: int = 50
) -> list[Layer]:
    """Class-balanced L2 logistic regression by Newton's method on standardised features."""
    n, d = x.shape
    design = np.hstack([x, np.ones((n, 1))])
    sample_weight = balanced_weights(y, street)
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


def fit_mlp(
    x: np.ndarray, y: np.ndarray, street: np.ndarray, hidden: int, l2: float = 1e-4, steps: int = 6000
) -> list[Layer]:
    """One ReLU hidden layer, class-balanced cross-entropy, full-batch Adam; minutes on a CPU."""
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
    sample_weight = balanced_weights(y, street)
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
    scores = head.scores(x)
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


def validation_threshold(
    head: GunshotHead, validation: Rows, max_fpr: float, street_hours: int, max_alarms_per_day: float
) -> float:
    """The lowest score that lets at most `max_fpr` of the validation clips' negative impulses
    through and, with a validation street, at most `max_alarms_per_day` of its impulses a day."""
    x, y, kinds = validation
    scores = head.scores(x)
    street = np.array([k == "street" for k in kinds])
    shown = admitted(head, x)
    threshold = 0.5
    for group, allowed in (
        (~street, int(max_fpr * np.sum((y == 0) & ~street))),  # of all, screened or not
        (street, int(max_alarms_per_day * street_hours / 24.0)),
    ):
        negatives = np.sort(scores[(y == 0) & group & shown])
        if len(negatives) > allowed:
            threshold = max(threshold, float(np.nextafter(negatives[-allowed - 1], 1.0)))
    return threshold


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--train-clips", type=int, default=1000)
    parser.add_argument("--validation-clips", type=int, default=300, help="for the threshold")
    parser.add_argument("--test-clips", type=int, default=400)
    parser.add_argument("--wav-dir", type=Path, help="recalibrate on labelled recordings instead")
    parser.add_argument("--max-fpr", type=float, default=0.01, help="clip negative impulses allowed to pass")
    parser.add_argument("--street-hours", type=int, default=12, help="of urban background to train on")
    parser.add_argument(
        "--validation-street-hours", type=int, default=24, help="of urban background to set the threshold on"
    )
    parser.add_argument(
        "--max-alarms-per-day", type=float, default=1.0, help="false alarms allowed in the validation street"
    )
    parser.add_argument("--out", type=Path, default=HERE / "gunshot_head.json")
    parser.add_argument("--hidden", type=int, default=128, help="hidden units; 0 for a logistic regression")
    parser.add_argument("--cache", type=Path, help="keep generated features here to refit quickly")
    args = parser.parse_args()
    yamnet = Yamnet(ROOT / "models" / "yamnet")
    began = time.monotonic()
    street_hours = 0
    if args.wav_dir:
        train = wav_rows(yamnet, args.wav_dir)
        order = np.random.default_rng(0).permutation(len(train[1]))
        cuts = [int(0.6 * len(order)), int(0.8 * len(order))]
        pick = lambda rows, idx: (rows[0][idx], rows[1][idx], [rows[2][i] for i in idx])  # noqa: E731
        train, validation, test = (pick(train, part) for part in np.split(order, cuts))
        provenance = f"recalibrated on {args.wav_dir.name} ({len(order)} impulses, 60/20/20 split)"
    else:
        street_hours = args.validation_street_hours
        train = joined(
            synthetic_rows(yamnet, "train", args.train_clips, args.cache),
            street_rows(yamnet, "train", args.street_hours, args.cache),
        )
        validation = joined(
            synthetic_rows(yamnet, "validation", args.validation_clips, args.cache),
            street_rows(yamnet, "validation", street_hours, args.cache),
        )
        test = synthetic_rows(yamnet, "test", args.test_clips, args.cache)
        provenance = (
            f"fitted on {args.train_clips} synthetic clips and {args.street_hours} h of synthetic street "
            f"(models/gunshot_head/dataset.py, seeds {SPLITS['train']}+), threshold on "
            f"{args.validation_clips} validation clips and {street_hours} h of street (seeds "
            f"{SPLITS['validation']}+), tested on {args.test_clips} held-out clips (seeds {SPLITS['test']}+)"
        )
    x, y, kinds = train
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    standard = (x - mean) / scale
    street = np.array([k == "street" for k in kinds])
    layers = fit_mlp(standard, y, street, args.hidden) if args.hidden else fit_logistic(standard, y, street)
    screen = fit_screen(x, y, len(HEAD_CLASSES))
    head = GunshotHead(
        HEAD_CLASSES, SHAPE_FEATURES, mean, scale, tuple(layers), 0.5, POST_ONSET_S, provenance, screen
    )
    threshold = validation_threshold(head, validation, args.max_fpr, street_hours, args.max_alarms_per_day)
    head = dataclasses.replace(head, threshold=min(max(threshold, 0.5), 0.999))
    head.save(args.out)
    report = {
        "train": evaluate(head, train),
        "validation": evaluate(head, validation),
        "test": evaluate(head, test),
        "threshold": head.threshold,
    }
    if street_hours:
        street_row = report["validation"]["street"]
        rate = street_row["false_positive_rate"] * street_row["impulses"] * 24.0 / street_hours
        report["validation_street_alarms_per_day"] = rate
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
