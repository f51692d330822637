"""What a firmware profile says about the board's peripherals: camera, microphone, GPIO pins.

Pins are BCM numbers (gpiozero's default numbering) and must be written as integers: a quoted
"17" is refused rather than guessed at, because a wrong pin can drive a siren relay.

    [camera]
    backend = "picamera2"   # picamera2 | v4l2 | jetson-csi | none
    width = 1280
    height = 720
    fps = 15

    [microphone]
    device = "hw:1,0"
    sample_rate = 16000

    [gpio]
    status_led = 17
    tamper_switch = 27
    siren = 22
    acknowledge_button = 23
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

Pin = Annotated[StrictInt, Field(ge=0, le=53, description="BCM GPIO number")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CameraSettings(_Strict):
    backend: Literal["picamera2", "v4l2", "jetson-csi", "none"] = "v4l2"
    device: Annotated[str, Field(max_length=200)] = "/dev/video0"
    width: Annotated[StrictInt, Field(ge=160, le=7680)] = 1280
    height: Annotated[StrictInt, Field(ge=120, le=4320)] = 720
    fps: Annotated[float, Field(gt=0.0, le=120.0)] = 15.0


class MicrophoneSettings(_Strict):
    device: Annotated[str, Field(max_length=200)] | None = None
    sample_rate: Annotated[StrictInt, Field(ge=8000, le=192_000)] = 16_000
    channels: Annotated[StrictInt, Field(ge=1, le=32)] = 1


class GpioPins(_Strict):
    status_led: Pin | None = None
    tamper_switch: Pin | None = None
    siren: Pin | None = None
    acknowledge_button: Pin | None = None
    # A closed enclosure holds the tamper switch closed (pulled to ground): opening releases it.
    tamper_opens_on: Literal["release", "press"] = "release"

    @model_validator(mode="after")
    def _distinct(self) -> GpioPins:
        used: dict[int, str] = {}
        for role in ("status_led", "tamper_switch", "siren", "acknowledge_button"):
            pin = getattr(self, role)
            if pin is None:
                continue
            if pin in used:
                raise ValueError(f"{role}: pin {pin} is already used by {used[pin]}")
            used[pin] = role
        return self

    def summary(self) -> str:
        roles = ("status_led", "tamper_switch", "siren", "acknowledge_button")
        pins = [f"{role}={getattr(self, role)}" for role in roles if getattr(self, role) is not None]
        return ", ".join(pins) or "none"
