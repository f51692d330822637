"""The live microphone source, as far as it can be checked without a sound card."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from impetus.edge_agent.plugins import sources
from impetus.edge_agent.sources.microphone import MicrophoneConfig, MicrophoneSource, MicrophoneUnavailable


def test_the_microphone_is_a_registered_audio_source() -> None:
    assert sources()["microphone"] is MicrophoneSource
    assert MicrophoneSource.kind == "audio"


def test_blocks_are_a_fixed_number_of_samples() -> None:
    assert MicrophoneConfig().block == 800
    assert MicrophoneConfig(sample_rate=48_000, block_ms=20).block == 960


def test_config_names_what_is_wrong() -> None:
    with pytest.raises(ValidationError, match="sample_rate"):
        MicrophoneConfig(sample_rate=4000)
    with pytest.raises(ValidationError, match="gain"):
        MicrophoneConfig(gain=3)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="channel 2 does not exist in a 2-channel input"):
        MicrophoneSource(MicrophoneConfig(channels=2, channel=2))


def test_opening_without_portaudio_or_a_device_is_a_clear_error() -> None:
    source = MicrophoneSource(MicrophoneConfig(device="no-such-device"))
    with pytest.raises(MicrophoneUnavailable, match=r"sounddevice|no-such-device"):
        source.open()


def test_reading_before_opening_is_refused() -> None:
    with pytest.raises(MicrophoneUnavailable, match="before open"):
        MicrophoneSource(MicrophoneConfig()).read()
