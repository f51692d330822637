"""The decision stage: threshold and screen come from the model file, the screen spares YAMNet the
impulses unlike any shot, and shots at an automatic rate say so on the wire."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from dataset import SPLITS, kinds_for, make_clip
from test_detector import MODELS, SR, T0, new_detector, run, scene

from impetus.edge_agent.audio.head import GunshotHead
from impetus.edge_agent.audio.impulse import SHAPE_FEATURES, Impulse
from impetus.edge_agent.audio.stream import ImpulseStream
from impetus.edge_agent.audio.yamnet import Yamnet
from impetus.edge_agent.detectors.base import DetectorContext
from impetus.edge_agent.detectors.gunshot import GunshotConfig, GunshotDetector
from impetus.protocol.payloads import GunshotPayload

HEAD_FILE = MODELS / "gunshot_head" / "gunshot_head.json"


def head_copy(tmp_path: Path, **changes: object) -> Path:
    """The shipped head file with some keys changed, in a models directory of its own."""
    (tmp_path / "gunshot_head").mkdir()
    (tmp_path / "yamnet").symlink_to(MODELS / "yamnet")
    document = json.loads(HEAD_FILE.read_text()) | changes
    path = tmp_path / "gunshot_head" / "gunshot_head.json"
    path.write_text(json.dumps(document))
    return path


def detector_in(models: Path, **config: float) -> GunshotDetector:
    detector = GunshotDetector(GunshotConfig(**config), DetectorContext("mic-1", "plaza", models))
    detector.setup()
    return detector


def test_the_threshold_is_read_from_the_model_file_unless_the_config_sets_one(tmp_path: Path) -> None:
    head_copy(tmp_path, threshold=0.6543)
    assert detector_in(tmp_path).threshold == 0.6543
    assert detector_in(tmp_path, threshold=0.9).threshold == 0.9


def test_the_burst_threshold_comes_from_the_model_file_and_never_exceeds_threshold(tmp_path: Path) -> None:
    head_copy(tmp_path, threshold=0.9, burst_threshold=0.61)
    assert detector_in(tmp_path).burst_threshold == 0.61
    assert detector_in(tmp_path, burst_threshold=0.7).burst_threshold == 0.7
    assert detector_in(tmp_path, threshold=0.5).burst_threshold == 0.5
    assert GunshotHead.load(tmp_path / "gunshot_head" / "gunshot_head.json").burst_threshold == 0.61


def test_a_head_file_without_a_burst_threshold_judges_every_shot_alike(tmp_path: Path) -> None:
    path = head_copy(tmp_path)
    document = json.loads(path.read_text())
    document.pop("burst_threshold", None)
    path.write_text(json.dumps(document))
    assert detector_in(tmp_path).burst_threshold == detector_in(tmp_path).threshold


def test_a_threshold_no_score_reaches_silences_the_detector(tmp_path: Path) -> None:
    audio = scene([("gunshot", 30.0, 0.5)], 21)
    assert len(run(new_detector(), audio)) == 1
    head_copy(tmp_path, threshold=0.999999)
    assert run(detector_in(tmp_path), audio) == []


def test_the_screen_admits_a_shots_shape_and_refuses_one_outside_its_ranges() -> None:
    head = GunshotHead.load(HEAD_FILE)
    assert {name for name, _, _ in head.screen} >= {"snr_db", "rise_ms"}
    shape = np.zeros(len(SHAPE_FEATURES), np.float32)
    for name, low, high in head.screen:
        shape[SHAPE_FEATURES.index(name)] = 0.5 * (low + high)
    inside = Impulse(onset=0.0, peak_dbfs=-20.0, duration_ms=10.0, shape=shape)
    assert head.admits(inside)
    _, snr_low, _ = next(s for s in head.screen if s[0] == "snr_db")
    faint = shape.copy()
    faint[SHAPE_FEATURES.index("snr_db")] = snr_low - 1.0
    assert not head.admits(dataclasses.replace(inside, shape=faint))


def test_an_impulse_the_screen_refuses_never_reaches_yamnet() -> None:
    audio = scene([("gunshot", 30.0, 0.5)], 22)
    yamnet = Yamnet(MODELS / "yamnet")
    calls: list[Impulse] = []

    def refuse(impulse: Impulse) -> bool:
        calls.append(impulse)
        return False

    screened = ImpulseStream(yamnet, SR, screen=refuse)
    assert screened.feed(audio) + screened.flush() == []
    assert calls, "the gate must have fired for this test to mean anything"
    plain = ImpulseStream(yamnet, SR)
    assert len(plain.feed(audio) + plain.flush()) == len(calls)


def test_a_head_file_whose_screen_names_an_unknown_feature_is_refused(tmp_path: Path) -> None:
    path = head_copy(tmp_path, screen=[["loudness_sones", 0.0, 1.0]])
    with pytest.raises(ValueError, match="loudness_sones"):
        GunshotHead.load(path)


def test_shots_at_an_automatic_rate_are_labelled_machine_gun_in_one_burst() -> None:
    shots = [0.4, 0.52, 0.64, 0.76]
    found = run(new_detector(), scene([("gunshot", 40.0, t) for t in shots], 23))
    payloads = [d.payload for d in found]
    assert all(isinstance(p, GunshotPayload) for p in payloads)
    assert len(payloads) == 4
    assert [p.label for p in payloads] == ["gunshot", "machine_gun", "machine_gun", "machine_gun"]  # type: ignore[attr-defined]
    assert len({p.burst_id for p in payloads}) == 1  # type: ignore[attr-defined]


def test_aimed_shots_a_quarter_second_apart_stay_gunshots() -> None:
    found = run(new_detector(), scene([("gunshot", 30.0, t) for t in (0.4, 0.65, 0.9)], 1))
    assert [d.payload.label for d in found] == ["gunshot"] * 3  # type: ignore[attr-defined]


@pytest.mark.parametrize("clip_index", [126, 194])
def test_a_confirmed_shot_lets_the_rest_of_its_burst_through_on_less_evidence(clip_index: int) -> None:
    """Validation clips where a later shot of the burst, ringing in the one before, scores under
    the head's threshold but over its burst threshold: judged alike, it is lost."""
    clip = make_clip(kinds_for(clip_index), np.random.default_rng(SPLITS["validation"] + clip_index))
    arrivals = [a / SR for a in clip.arrivals]

    def shots_found(detector: GunshotDetector) -> set[int]:
        onsets = [(d.ts - T0).total_seconds() for d in run(detector, clip.audio) + detector.finish()]
        return {j for j, a in enumerate(arrivals) if any(abs(o - a) <= 0.005 for o in onsets)}

    default = new_detector()
    assert default.burst_threshold < default.threshold
    alike = detector_in(MODELS, burst_threshold=default.threshold)
    with_bursts, judged_alike = shots_found(default), shots_found(alike)
    assert judged_alike < with_bursts == set(range(len(arrivals)))


def test_after_a_recording_ends_the_next_one_starts_afresh() -> None:
    detector = new_detector()
    audio = scene([("gunshot", 30.0, t) for t in (0.4, 0.65, 0.9)], 1)
    first = run(detector, audio) + detector.finish()
    again = run(detector, audio) + detector.finish()
    assert [d.payload.shot_index for d in again] == [d.payload.shot_index for d in first] == [0, 1, 2]  # type: ignore[attr-defined]
