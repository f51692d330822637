"""The agent's physical controls at run time: the profile's GPIO panel wired to the agent.

The tamper switch feeds the same path as a detector (envelope, privacy gate, outbox); the status
LED follows the publisher (booting until connected, then online or backlog); the siren listens to
the device's `cmd` topic on its own MQTT connection (client id `DEVICE-cmd`, same account: the ACL
lets a device read only its own cmd). A board without GPIO (a laptop, a VM) runs without them and
says so once.

    controls = DeviceControls.for_agent(agent)   # None when the profile declares no pins
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt

from impetus.edge_agent.agent import EdgeAgent
from impetus.edge_agent.broker import BrokerAddress
from impetus.edge_agent.credentials import DeviceCredentials
from impetus.edge_agent.gpio import CommandError, DetectionHook, GpioPanel
from impetus.edge_agent.hardware import GpioPins
from impetus.edge_agent.publisher import make_client
from impetus.protocol.topics import cmd_topic

log = logging.getLogger(__name__)
LED_REFRESH_S = 1.0


class DeviceControls:
    def __init__(
        self,
        panel: GpioPanel,
        link_state: Callable[[], tuple[bool, int]],
        *,
        site: str,
        device_id: str,
        broker: BrokerAddress,
        credentials: DeviceCredentials | None,
    ) -> None:
        self.panel = panel
        self.link_state = link_state
        self.commands_handled = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._client: mqtt.Client | None = None
        self._topic = cmd_topic(site, device_id)
        if panel.siren is not None:
            self._client = make_client(f"{device_id}-cmd", broker, credentials)
            self._client.on_connect = self._on_connect
            self._client.on_message = self._on_message
            self._broker = broker

    @classmethod
    def build(
        cls,
        pins: GpioPins,
        on_detection: DetectionHook,
        link_state: Callable[[], tuple[bool, int]],
        *,
        site: str,
        device_id: str,
        broker: BrokerAddress,
        credentials: DeviceCredentials | None,
        pin_factory: Any = None,
    ) -> DeviceControls | None:
        """None when the profile declares no pins or this machine has no GPIO."""
        if pins.summary() == "none":
            return None
        try:
            panel = GpioPanel(pins, on_detection, pin_factory=pin_factory)
        except Exception as error:  # gpiozero raises BadPinFactory and friends on a machine without GPIO
            log.warning(
                "GPIO pins %s declared but unusable here (%s); running without them", pins.summary(), error
            )
            return None
        return cls(panel, link_state, site=site, device_id=device_id, broker=broker, credentials=credentials)

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if not reason.is_failure:
            client.subscribe(self._topic, qos=1)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if self.panel.siren is None:
            return
        try:
            self.panel.siren.handle_command(message.payload)
            self.commands_handled += 1
        except CommandError as error:
            log.warning("ignored a cmd on %s: %s", self._topic, error)

    def _refresh(self) -> None:
        if self.panel.led is not None:
            self.panel.led.show("booting")
        while not self._stop.wait(LED_REFRESH_S):
            connected, backlog = self.link_state()
            if self.panel.led is not None:
                self.panel.led.show_link(connected, backlog)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._refresh, name="gpio-led", daemon=True)
        self._thread.start()
        if self._client is not None:
            self._client.connect_async(self._broker.host, self._broker.port, keepalive=30)
            self._client.loop_start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
        self.panel.close()


def start_controls(agent: EdgeAgent, pin_factory: Any = None) -> DeviceControls | None:
    """Wire the profile's GPIO to a started agent (`impetus edge run`); None without pins or GPIO."""
    config = agent.config
    controls = DeviceControls.build(
        config.profile.settings.gpio,
        agent._on_detection,  # the tamper switch is one more detector to the agent
        lambda: (agent.publisher.connected, agent.outbox.backlog()),
        site=config.site,
        device_id=config.device_id,
        broker=config.broker,
        credentials=config.credentials,
        pin_factory=pin_factory,
    )
    if controls is not None:
        controls.start()
    return controls
