"""Set the head's `burst_threshold`: the score an impulse needs after a confirmed shot of its burst.

    python models/gunshot_head/fit_burst_threshold.py [--clips 300] [--recall 0.95]

The head's `threshold` is set for at most one false alarm a day on the street (`train.py`); a
shot that rings in the previous one's reverberation, 0.1-0.6 s later, has a YAMNet patch full of
that shot and scores lower. Once a shot is confirmed, a look-alike within `burst_gap_s` is rare,
so the rest of the burst can be judged on less evidence without touching the daily alarm rate.

The real detector runs end to end on the validation clips (seeds that neither the fit nor any
test uses) at each candidate value from the head's threshold downwards; the highest value whose
recall reaches `--recall` is written into the head file (`gunshot_head.json`), with the table
into `burst_threshold.metrics.json`. No value reaching it writes nothing and says so.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from dataset import SPLITS  # noqa: E402
from end_to_end import evaluate_clips  # noqa: E402

from impetus.edge_agent.audio.head import GunshotHead  # noqa: E402
from impetus.edge_agent.detectors.gunshot import GunshotConfig  # noqa: E402


def main() -> None:
    logging.getLogger("impetus.edge_agent.detectors.gunshot").setLevel(logging.ERROR)  # clipping notes
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clips", type=int, default=300, help="validation clips")
    parser.add_argument("--recall", type=float, default=0.95, help="validation recall to reach")
    parser.add_argument("--head", type=Path, default=HERE / "gunshot_head.json")
    args = parser.parse_args()
    head = GunshotHead.load(args.head)
    candidates = [round(float(v), 2) for v in np.arange(0.95, 0.45, -0.05) if v < head.threshold]
    table = []
    chosen = None
    for value in [head.threshold, *candidates]:
        config = GunshotConfig(burst_threshold=value)
        row = evaluate_clips(args.clips, config, SPLITS["validation"])
        table.append({"burst_threshold": value} | {k: row[k] for k in ("shots", "recall", "precision")})
        print(f"burst_threshold {value:.3f}: recall {row['recall']:.4f}  precision {row['precision']:.3f}")
        if row["recall"] >= args.recall:
            chosen = value
            break
    (HERE / "burst_threshold.metrics.json").write_text(
        json.dumps({"clips": args.clips, "goal_recall": args.recall, "tried": table}, indent=1) + "\n"
    )
    if chosen is None:
        raise SystemExit(f"no burst threshold down to {candidates[-1]} reaches recall {args.recall}")
    if chosen < head.threshold:
        dataclasses.replace(head, burst_threshold=chosen).save(args.head)
        print(f"wrote burst_threshold {chosen} into {args.head}")


if __name__ == "__main__":
    main()
