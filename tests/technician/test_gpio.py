"""The physical controls on gpiozero's mock pins: LED patterns, tamper switch -> `tamper` event,
siren driven by `cmd`, acknowledge button."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory, MockPWMPin

from impetus.edge_agent.detectors.base import Detection
from impetus.edge_agent.gpio import CommandError, GpioPanel, Siren, StatusLed
from impetus.edge_agent.hardware import GpioPins
from impetus.protocol.payloads import TamperPayload

PINS = GpioPins(status_led=17, tamper_switch=27, siren=22, acknowledge_button=23)


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    factory = MockFactory(pin_class=MockPWMPin)
    yield factory
    factory.reset()
    Device.pin_factory = None


def test_a_steady_led_means_online_and_a_blink_means_something_else(factory: MockFactory) -> None:
    led = StatusLed(17, pin_factory=factory)
    pin = factory.pin(17)
    led.show("online")
    assert pin.state == 1
    led.show("booting")
    seen = set()
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline and len(seen) < 2:
        seen.add(pin.state > 0)
        time.sleep(0.01)
    assert seen == {True, False}
    led.show_link(connected=True, backlog=12)
    assert led.state == "backlog"
    led.show_link(connected=True, backlog=0, fault=True)
    assert led.state == "fault"
    led.close()


def test_opening_the_enclosure_raises_a_tamper_event(factory: MockFactory) -> None:
    raised: list[tuple[str, Detection]] = []
    panel = GpioPanel(PINS, lambda route, d: raised.append((route, d)), pin_factory=factory)
    switch = factory.pin(27)
    switch.drive_low()  # lid closed: the switch holds the pin to ground
    assert raised == []
    switch.drive_high()  # lid opened: released
    assert len(raised) == 1
    route, detection = raised[0]
    assert route == "tamper-switch" and detection.type == "tamper"
    assert isinstance(detection.payload, TamperPayload) and detection.payload.kind == "enclosure_opened"
    panel.close()


def test_the_siren_follows_commands_and_switches_itself_off(factory: MockFactory) -> None:
    siren = Siren(22, pin_factory=factory)
    siren.handle_command(b'{"command": "siren", "action": "on", "duration_s": 0.2}')
    assert factory.pin(22).state == 1
    time.sleep(0.4)
    assert factory.pin(22).state == 0
    siren.handle_command(b'{"command": "siren", "action": "on", "duration_s": 30}')
    siren.handle_command(b'{"command": "siren", "action": "off"}')
    assert not siren.sounding
    for bad, expected in (
        (b"nonsense", "JSON"),
        (b'{"command": "siren", "action": "loud"}', "action"),
        (b'{"command": "siren", "action": "on", "duration_s": 9999}', "duration_s"),
    ):
        with pytest.raises(CommandError, match=expected):
            siren.handle_command(bad)
    siren.close()


def test_the_acknowledge_button_silences_the_siren(factory: MockFactory) -> None:
    panel = GpioPanel(PINS, lambda route, d: None, pin_factory=factory)
    assert panel.siren is not None and panel.button is not None
    panel.siren.on(30)
    factory.pin(23).drive_low()  # pressed (pulled up, so pressed is low)
    assert not panel.siren.sounding and panel.button.presses == 1
    panel.close()
