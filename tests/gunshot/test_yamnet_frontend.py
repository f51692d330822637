"""The numpy log-mel front end feeds the real quantised YAMNet what it was trained on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from impetus.edge_agent.audio import logmel
from impetus.edge_agent.audio.yamnet import Yamnet
from impetus.edge_agent.inference import ModelFileError
from impetus.scenario.propagation import propagate, to_full_scale
from impetus.scenario.sounds import synthesise

MODELS = Path(__file__).resolve().parents[2] / "models"
N = logmel.PATCH_SAMPLES


@pytest.fixture(scope="module")
def yamnet() -> Yamnet:
    return Yamnet(MODELS / "yamnet")


def top(yamnet: Yamnet, audio: np.ndarray, k: int = 3) -> list[str]:
    probs = yamnet.probabilities(logmel.patch(audio.astype(np.float32)))
    return [yamnet.class_names[i] for i in np.argsort(probs)[::-1][:k]]


def test_the_mel_bank_is_tensorflows_htk_bank_between_125_and_7500_hz() -> None:
    bank = logmel.mel_matrix()
    freqs = np.linspace(0, logmel.SAMPLE_RATE / 2, bank.shape[0])
    assert bank.shape == (257, 64)
    assert not bank[0].any()
    used = freqs[bank.any(axis=1)]
    assert used.min() > 125.0 and used.max() < 7500.0
    assert np.all(np.argmax(bank, axis=0)[1:] >= np.argmax(bank, axis=0)[:-1])


def test_silence_is_the_log_offset_and_a_patch_is_96_frames() -> None:
    patch = logmel.patch(np.zeros(N, np.float32))
    assert patch.shape == (96, 64)
    assert np.allclose(patch, np.log(logmel.LOG_OFFSET))
    with pytest.raises(ValueError, match="15600 samples"):
        logmel.patch(np.zeros(N - 1, np.float32))


def test_silence_is_heard_as_silence(yamnet: Yamnet) -> None:
    assert top(yamnet, np.zeros(N), 1) == ["Silence"]


def test_a_sine_is_heard_as_a_beep_or_sine(yamnet: Yamnet) -> None:
    t = np.arange(N) / logmel.SAMPLE_RATE
    assert {"Beep, bleep", "Sine wave"} & set(top(yamnet, 0.3 * np.sin(2 * np.pi * 1000 * t), 2))


def test_speech_like_babble_is_heard_as_speech(yamnet: Yamnet) -> None:
    heard = 0
    for seed in range(4):
        talk = synthesise("speech", logmel.SAMPLE_RATE, np.random.default_rng(seed), duration_s=1.2)
        audio = to_full_scale(propagate(talk, logmel.SAMPLE_RATE, 1.0, 20.0), full_scale_db_spl=100.0)[:N]
        heard += "Speech" in top(yamnet, audio, 2)
    assert heard >= 3


def test_resampling_keeps_a_tone_at_its_frequency() -> None:
    t = np.arange(4800) / 48_000
    down = logmel.resample(np.sin(2 * np.pi * 440 * t).astype(np.float32), 48_000)
    assert len(down) == 1600
    assert np.argmax(np.abs(np.fft.rfft(down))) * logmel.SAMPLE_RATE / 1600 == pytest.approx(440, abs=10)


def test_a_missing_model_directory_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match=r"yamnet_w8a8\.onnx"):
        Yamnet(tmp_path)
