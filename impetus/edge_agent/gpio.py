"""The board's physical controls, through gpiozero: status LED, enclosure tamper switch, siren or
strobe relay, local acknowledge button. Pins come from the profile's `[gpio]` table (BCM numbers).

    panel = GpioPanel(profile.settings.gpio, on_detection=agent_detection_hook)
    panel.led.show("online")
    panel.siren.handle_command(b'{"command": "siren", "action": "on", "duration_s": 30}')

Tests and laptops pass `pin_factory=MockFactory(pin_class=MockPWMPin)`; on a Pi gpiozero picks
its own.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

from gpiozero import PWMLED, Button, DigitalOutputDevice

from impetus.edge_agent.detectors.base import Detection
from impetus.edge_agent.hardware import GpioPins
from impetus.protocol.payloads import TamperPayload

log = logging.getLogger(__name__)

LedState = Literal["booting", "online", "backlog", "fault", "off"]
# (on seconds, off seconds, blinks then pause); None: steady.
PATTERNS: dict[str, tuple[float, float] | None] = {
    "booting": (0.1, 0.1),  # fast flicker while starting
    "online": None,  # steady: connected, outbox empty
    "backlog": (1.0, 0.2),  # mostly on with short gaps: connected, catching up / or offline and storing
    "fault": (0.05, 0.95),  # one short flash a second: needs a technician
}
MAX_SIREN_S = 600.0

DetectionHook = Callable[[str, Detection], None]


class StatusLed:
    """One LED tells the technician the state from the street: booting, online, backlog, fault."""

    def __init__(self, pin: int, pin_factory: Any = None) -> None:
        self.device = PWMLED(pin, pin_factory=pin_factory)
        self.state: LedState = "off"

    def show(self, state: LedState) -> None:
        if state == self.state:
            return
        self.state = state
        if state == "off":
            self.device.off()
            return
        pattern = PATTERNS[state]
        if pattern is None:
            self.device.on()
        else:
            self.device.blink(on_time=pattern[0], off_time=pattern[1], background=True)

    def show_link(self, connected: bool, backlog: int, fault: bool = False) -> None:
        """The LED state from the agent's link: fault wins, then backlog, then online."""
        self.show("fault" if fault else "backlog" if backlog > 0 or not connected else "online")

    def close(self) -> None:
        self.device.close()


class TamperSwitch:
    """A microswitch held closed by the enclosure lid: opening it raises a `tamper` event."""

    def __init__(
        self,
        pin: int,
        on_detection: DetectionHook,
        opens_on: Literal["release", "press"] = "release",
        pin_factory: Any = None,
    ) -> None:
        self.device = Button(pin, pull_up=True, bounce_time=None, pin_factory=pin_factory)
        self.on_detection = on_detection
        self.openings = 0
        if opens_on == "release":
            self.device.when_released = self._opened
        else:
            self.device.when_pressed = self._opened

    def _opened(self) -> None:
        self.openings += 1
        detection = Detection(
            type="tamper",
            payload=TamperPayload(kind="enclosure_opened", score=1.0, detail="enclosure switch opened"),
            ts=datetime.now(UTC),
        )
        self.on_detection("tamper-switch", detection)

    def close(self) -> None:
        self.device.close()


class CommandError(ValueError):
    """A `cmd` message the device cannot act on; the message says what was expected."""


class Siren:
    """A relay for a siren or strobe, switched by the aggregator's `cmd` messages:
    `{"command": "siren", "action": "on", "duration_s": 30}` or `{"command": "siren", "action": "off"}`.
    It always switches itself off after `duration_s` (at most 10 minutes)."""

    def __init__(self, pin: int, pin_factory: Any = None) -> None:
        self.device = DigitalOutputDevice(pin, pin_factory=pin_factory)
        self._timer: threading.Timer | None = None

    @property
    def sounding(self) -> bool:
        return bool(self.device.value)

    def on(self, duration_s: float) -> None:
        if not 0 < duration_s <= MAX_SIREN_S:
            raise CommandError(f"duration_s: expected 0 < seconds <= {MAX_SIREN_S:g} (got {duration_s})")
        self.off()
        self.device.on()
        self._timer = threading.Timer(duration_s, self.off)
        self._timer.daemon = True
        self._timer.start()

    def off(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.device.off()

    def handle_command(self, payload: bytes) -> None:
        try:
            command = json.loads(payload)
        except ValueError:
            raise CommandError("cmd: expected a JSON object") from None
        if not isinstance(command, dict) or command.get("command") != "siren":
            raise CommandError('cmd: expected {"command": "siren", ...}')
        action = command.get("action")
        if action == "off":
            self.off()
        elif action == "on":
            duration = command.get("duration_s", 30)
            if isinstance(duration, bool) or not isinstance(duration, int | float):
                raise CommandError(f"duration_s: expected a number of seconds (got {duration!r})")
            self.on(float(duration))
        else:
            raise CommandError(f'action: expected "on" or "off" (got {action!r})')

    def close(self) -> None:
        self.off()
        self.device.close()


class AcknowledgeButton:
    """A button by the sensor: a technician or steward confirms they are on site (silences the siren)."""

    def __init__(self, pin: int, on_press: Callable[[], None], pin_factory: Any = None) -> None:
        self.device = Button(pin, pull_up=True, bounce_time=None, pin_factory=pin_factory)
        self.presses = 0

        def pressed() -> None:
            self.presses += 1
            on_press()

        self.device.when_pressed = pressed

    def close(self) -> None:
        self.device.close()


class GpioPanel:
    """Every control the profile declares; roles without a pin are None."""

    def __init__(self, pins: GpioPins, on_detection: DetectionHook, pin_factory: Any = None) -> None:
        self.led = StatusLed(pins.status_led, pin_factory) if pins.status_led is not None else None
        self.tamper = (
            TamperSwitch(pins.tamper_switch, on_detection, pins.tamper_opens_on, pin_factory)
            if pins.tamper_switch is not None
            else None
        )
        self.siren = Siren(pins.siren, pin_factory) if pins.siren is not None else None
        self.button = (
            AcknowledgeButton(pins.acknowledge_button, self._acknowledged, pin_factory)
            if pins.acknowledge_button is not None
            else None
        )

    def _acknowledged(self) -> None:
        if self.siren is not None:
            self.siren.off()

    def close(self) -> None:
        for part in (self.led, self.tamper, self.siren, self.button):
            if part is not None:
                part.close()
