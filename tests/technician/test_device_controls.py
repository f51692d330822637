"""A running agent with its GPIO panel on gpiozero's mock pins and a real mosquitto: opening the
enclosure publishes a tamper event, a `cmd` sounds the siren, the LED follows the link."""

from __future__ import annotations

import json
import threading
import wave
from pathlib import Path

import paho.mqtt.client as mqtt
from gpiozero import Device
from gpiozero.pins.mock import MockFactory, MockPWMPin
from link_fixtures import wait_until
from paho.mqtt.enums import CallbackAPIVersion

from impetus.aggregator.mosquitto import MosquittoProcess
from impetus.edge_agent.agent import EdgeAgent
from impetus.edge_agent.config import load_agent_config
from impetus.edge_agent.controls import start_controls

PROFILE = """name = "pole-board"
board = "Test pole"
[detectors.gunshot]
[gpio]
status_led = 17
tamper_switch = 27
siren = 22
acknowledge_button = 23
"""


def test_the_enclosure_switch_siren_and_led_work_through_the_running_agent(
    tmp_path: Path, mosquitto: MosquittoProcess
) -> None:
    with wave.open(str(tmp_path / "street.wav"), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
        out.writeframes(b"\x00\x00" * 16_000 * 20)
    (tmp_path / "board.toml").write_text(PROFILE, encoding="utf-8")
    (tmp_path / "device.toml").write_text(
        f'device_id = "pole-5"\nsite = "piazza"\nprofile = "board.toml"\nbroker = "{mosquitto.url}"\n'
        '[[sources]]\ntype = "wav_file"\npath = "street.wav"\nrealtime = true\n',
        encoding="utf-8",
    )
    received: list[dict[str, object]] = []
    watcher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="watcher")
    subscribed = threading.Event()
    watcher.on_subscribe = lambda *args: subscribed.set()
    watcher.on_message = lambda c, u, m: (
        received.append(json.loads(m.payload)) if "/events/" in m.topic else None
    )
    watcher.connect(mosquitto.host, mosquitto.port)
    watcher.subscribe("impetus/v1/#", qos=1)
    watcher.loop_start()
    assert subscribed.wait(5)

    factory = MockFactory(pin_class=MockPWMPin)
    agent = EdgeAgent(load_agent_config(tmp_path / "device.toml"))
    agent.start()
    controls = start_controls(agent, pin_factory=factory)
    try:
        assert controls is not None and controls.panel.led is not None
        wait_until(lambda: controls.panel.led.state == "online", "the LED shows online")  # type: ignore[union-attr]

        factory.pin(27).drive_low()  # lid closed
        factory.pin(27).drive_high()  # lid opened
        wait_until(lambda: any(e["type"] == "tamper" for e in received), "the tamper event at the broker")
        tamper = next(e for e in received if e["type"] == "tamper")
        assert tamper["payload"]["kind"] == "enclosure_opened"  # type: ignore[index]
        assert tamper["device_id"] == "pole-5"

        command = {"command": "siren", "action": "on", "duration_s": 30}
        watcher.publish("impetus/v1/piazza/pole-5/cmd", json.dumps(command), qos=1)
        wait_until(lambda: factory.pin(22).state == 1, "the siren relay closed")
        factory.pin(23).drive_low()  # the steward acknowledges on site
        assert factory.pin(22).state == 0
    finally:
        if controls is not None:
            controls.stop()
        agent.stop()
        watcher.loop_stop()
        watcher.disconnect()
        factory.reset()
        Device.pin_factory = None
