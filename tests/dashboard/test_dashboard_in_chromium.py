"""The dashboard end to end in a real headless Chromium against a running aggregator.

An operator signs in with a key from `impetus aggregator user add`, sees the site plan with its
devices; a shot published on MQTT appears on the page, located on the plan; the operator
acknowledges it with the button and the API shows the transition, with the operator named in the
audit trail. Debian's chromium, driven by Playwright, never a downloaded browser.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
from click.testing import CliRunner
from paho.mqtt.enums import CallbackAPIVersion
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright

from impetus.aggregator.alert_rules import Watchdog, load_rules
from impetus.aggregator.broker import parse_broker_url
from impetus.aggregator.localisation import SOURCE_HEIGHT_M
from impetus.aggregator.service import AggregatorService
from impetus.aggregator.soc import SocConfig
from impetus.cli import main as impetus_cli
from impetus.configfile import load_toml_model
from impetus.protocol import ClockQuality, EnvelopeBase, PrivacyStamp, make_event, topic_for
from impetus.protocol.site import SiteDescription, speed_of_sound
from impetus.scenario.timeline import DATA_DIR

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PIAZZA = load_toml_model(DATA_DIR / "piazza.toml", SiteDescription)
SHOT_AT = (52.0, 31.0)  # in the gathering zone


def cli(*args: str) -> str:
    result = CliRunner().invoke(impetus_cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output.strip()


def report(event_type: str, device_id: str, ts: datetime, payload: dict[str, Any], seq: int) -> EnvelopeBase:
    return make_event(
        event_type,
        device_id=device_id,
        site=PIAZZA.site,
        seq=seq,
        payload=payload,
        ts=ts,
        clock=ClockQuality(source="ptp", offset_ms=0.0),
        privacy=PrivacyStamp(policy_id="default", policy_version=1),
        zone=PIAZZA.device(device_id).zone,
    )


def shot_reports(fired: datetime) -> list[EnvelopeBase]:
    """Every microphone's report of one shot at SHOT_AT, with the onset the sound's path gives it."""
    c = speed_of_sound(PIAZZA.temperature_c)
    reports = []
    for placement in PIAZZA.devices:
        if "microphone" not in placement.sensors:
            continue
        dx, dy = placement.position.x_m - SHOT_AT[0], placement.position.y_m - SHOT_AT[1]
        distance = math.sqrt(dx * dx + dy * dy + (placement.height_m - SOURCE_HEIGHT_M) ** 2)
        onset = fired + timedelta(seconds=distance / c)
        payload = {"onset_ts": onset.isoformat(), "peak_dbfs": -6.0, "duration_ms": 5.0, "score": 0.95}
        reports.append(report("gunshot", placement.device_id, onset, payload, seq=1))
    return reports


class Devices:
    """The site's devices as one MQTT client publishing on their topics, as the agents would."""

    def __init__(self, broker_url: str) -> None:
        host, port = parse_broker_url(broker_url)
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="dashboard-test-devices")
        self._client.connect(host, port)
        self._client.loop_start()

    def publish(self, event: EnvelopeBase) -> None:
        topic = topic_for(event.site, event.device_id, event.type)  # type: ignore[attr-defined]
        self._client.publish(topic, event.to_bytes(), qos=1).wait_for_publish(5)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("chromium is not installed: run `apt-get install -y chromium` (`./dev test` does)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def service(tmp_path: Path) -> Iterator[AggregatorService]:
    rules = load_rules().model_copy(update={"watchdog": Watchdog(offline_after_s=60.0, check_every_s=0.2)})
    operator = SocConfig(rules=rules, site=PIAZZA)
    with AggregatorService(None, tmp_path / "aggregator.db", "127.0.0.1:0", operator=operator) as running:
        yield running


@pytest.fixture
def devices(service: AggregatorService) -> Iterator[Devices]:
    publisher = Devices(service.broker_url)
    yield publisher
    publisher.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (its own sessionStorage); script errors fail the test."""
    context = browser.new_context(viewport={"width": 1600, "height": 900})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.on("console", lambda message: _console_error(message, errors))
    yield opened
    context.close()
    assert errors == [], f"the page logged errors: {errors}"


def _console_error(message: ConsoleMessage, errors: list[str]) -> None:
    # Chromium logs 401/403 answers and refused WebSocket handshakes itself; the page handles them.
    handled = ("status of 40", "Unexpected response code: 40")
    if message.type == "error" and not any(text in message.text for text in handled):
        errors.append(message.text)


def sign_in(page: Page, service: AggregatorService, key: str) -> None:
    page.goto(service.api_url + "/")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()


def test_an_operator_sees_a_shot_on_the_plan_and_acknowledges_it(
    service: AggregatorService, devices: Devices, page: Page, tmp_path: Path
) -> None:
    key = cli("aggregator", "user", "add", "olga", "--role", "operator", "--db", str(service.store.path))
    sign_in(page, service, key)
    expect(page.locator("#who")).to_have_text("olga (operator)")
    expect(page.locator("#connection")).to_have_text("Live feed: live")
    expect(page.locator("#site-name")).to_have_text(PIAZZA.name)
    expect(page.locator("svg.plan .device")).to_have_count(len(PIAZZA.devices))
    expect(page.locator("svg.plan .zone")).to_have_count(len(PIAZZA.zones))

    now = datetime.now(UTC)
    for placement in PIAZZA.devices:
        status = {"state": "online", "agent_version": "0.1.0"}
        devices.publish(report("status", placement.device_id, now, status, seq=0))
    expect(page.locator("svg.plan .device-online")).to_have_count(len(PIAZZA.devices))

    for shot in shot_reports(now + timedelta(seconds=1)):
        devices.publish(shot)
    row = page.locator(".alert-item").filter(has_text="Gunshot")
    expect(row).to_have_count(1)
    expect(row.locator(".badge")).to_have_text("SEVERE")  # severity as text, not colour alone
    expect(row.locator(".status")).to_have_text("new")
    expect(page.locator("svg.plan .located")).to_have_count(1)  # the located shot and its 95 % circle
    alert_id = row.get_attribute("data-alert")

    # Keyboard only: the located shot on the plan opens the alert, Escape closes it, the row reopens it.
    detail = page.locator("#alert-detail")
    page.locator("svg.plan .located").focus()
    page.keyboard.press("Enter")
    expect(detail.get_by_role("heading", level=2)).to_have_text("Gunshot at piazza/gathering")
    page.keyboard.press("Escape")
    expect(detail).to_contain_text("Select an alert.")
    row.get_by_role("button").press("Enter")
    expect(detail.get_by_role("heading", level=2)).to_have_text("Gunshot at piazza/gathering")
    first_step = detail.locator(".sop li").first
    first_step.get_by_role("checkbox").check()
    expect(first_step).to_contain_text("olga")
    detail.get_by_role("button", name="Acknowledge").click()
    expect(detail.locator(".detail-badges .status")).to_have_text("acknowledged")
    expect(detail.locator(".history")).to_contain_text("olga acknowledged · new → acknowledged")

    workload = page.locator('.workload tr[data-operator="olga"]')
    expect(workload.locator("td").nth(0)).to_have_text("1")  # olga holds one open alert
    expect(workload.locator("td").nth(1)).to_have_text("1")  # and has acknowledged one

    answer = httpx.get(
        f"{service.api_url}/api/v1/alerts/{alert_id}", headers={"Authorization": f"Bearer {key}"}
    ).json()
    assert (answer["status"], answer["acknowledged_by"]) == ("acknowledged", "olga")
    assert (answer["sop"][0]["done"], answer["sop"][0]["by"]) == (True, "olga")
    assert {"actor": "olga", "action": "acknowledged", "from": "new", "to": "acknowledged"}.items() <= next(
        entry for entry in answer["history"] if entry["action"] == "acknowledged"
    ).items()

    # The crowd flees right after the shot: the rules escalate it to extreme, and the page raises
    # the alarm (the sound, and a banner saying so).
    motion = {"speed_mps": 3.5, "direction_deg": 90.0, "coherence": 0.2, "dispersal": True}
    crowd = {"count": 300, "area_m2": 100.0, "density": 3.0, "level_of_service": "E", "motion": motion}
    devices.publish(report("crowd", "pole-north", now + timedelta(seconds=5), crowd, seq=2))
    expect(row.locator(".badge")).to_have_text("EXTREME")
    expect(page.locator(".toast-extreme")).to_contain_text("EXTREME: Gunshot")
    waiting = page.locator("#workload-waiting")
    expect(waiting).to_have_text("1 alert waiting for acknowledgement.")  # the crowd alert

    page.screenshot(path=tmp_path / "dashboard.png")


def test_an_operator_silences_a_zone_from_the_page_and_expires_the_silence(
    service: AggregatorService, devices: Devices, page: Page
) -> None:
    key = cli("aggregator", "user", "add", "olga", "--role", "operator", "--db", str(service.store.path))
    auth = {"Authorization": f"Bearer {key}"}
    sign_in(page, service, key)
    page.get_by_role("button", name="Silences").click()
    view = page.locator("#view-silences")
    expect(view).to_contain_text("No silences.")
    view.get_by_label("Zone", exact=True).select_option("piazza-east")
    page.get_by_role("button", name="Alerts").click()  # and back: the list is fetched and drawn again
    with page.expect_response("**/api/v1/silences"):
        page.get_by_role("button", name="Silences").click()
    view.get_by_label("Type", exact=True).select_option("crowd")
    view.get_by_label("For", exact=True).select_option(label="2 h")
    view.get_by_label("Why", exact=True).fill("sound check on the east stage")
    view.get_by_role("button", name="Silence", exact=True).click()
    row = view.locator(".silence-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("zone piazza-east · type crowd")
    expect(row).to_contain_text("olga")
    expect(row.locator("td").first).to_have_text("active")
    [silence] = httpx.get(f"{service.api_url}/api/v1/silences", headers=auth).json()["items"]
    assert (silence["author"], silence["zone"], silence["site"]) == ("olga", "piazza-east", PIAZZA.site)
    starts, ends = (
        datetime.fromisoformat(silence[k].replace("Z", "+00:00")) for k in ("starts_at", "ends_at")
    )
    assert abs((ends - starts).total_seconds() - 7200) < 60

    # A dense crowd on both sides: the silenced east side raises nothing, the west side does.
    now = datetime.now(UTC)
    dense = {"count": 300, "area_m2": 100.0, "density": 3.0, "level_of_service": "F"}
    devices.publish(report("crowd", "pole-east", now, dense, seq=1))
    devices.publish(report("crowd", "pole-west", now, dense, seq=1))
    page.get_by_role("button", name="Alerts").click()
    expect(page.locator(".alert-item").filter(has_text="piazza-west")).to_have_count(1)
    expect(page.locator(".alert-item").filter(has_text="piazza-east")).to_have_count(0)

    page.get_by_role("button", name="Silences").click()
    view.get_by_role("button", name="Expire now").click()
    expect(view).to_contain_text("No silences.")
    assert httpx.get(f"{service.api_url}/api/v1/silences", headers=auth).json()["items"] == []


def test_a_technician_gets_the_device_list_first_and_no_alert_actions(
    service: AggregatorService, devices: Devices, page: Page
) -> None:
    key = cli("aggregator", "user", "add", "tom", "--role", "technician", "--db", str(service.store.path))
    health = {"uptime_s": 600.0, "cpu_temp_c": 61.0, "outbox_backlog": 3}
    devices.publish(report("health", "pole-west", datetime.now(UTC), health, seq=0))
    sign_in(page, service, key)
    expect(page.get_by_role("button", name="Devices")).to_have_attribute("aria-current", "page")
    expect(page.locator("#view-alerts")).to_be_hidden()
    row = page.locator('tr[data-device="pole-west"]')
    expect(row).to_contain_text("61 °C")
    expect(row).to_contain_text("backlog 3")
    expect(page.locator('tr[data-device="mic-northeast"]')).to_contain_text("never seen")

    covered = {"kind": "covered", "score": 0.9}
    devices.publish(report("tamper", "pole-west", datetime.now(UTC), covered, seq=1))
    page.get_by_role("button", name="Alerts").click()
    page.locator(".alert-item").filter(has_text="tampered").get_by_role("button").click()
    detail = page.locator("#alert-detail")
    expect(detail).to_contain_text("Your role (technician) can view alerts but not act on them.")
    expect(detail.get_by_role("button", name="Acknowledge")).to_have_count(0)


def test_a_wrong_key_is_refused_at_sign_in_and_nothing_is_shown(
    service: AggregatorService, page: Page
) -> None:
    sign_in(page, service, "imp_not-a-key")
    expect(page.locator("#login-error")).to_have_text("That key was not accepted.")
    expect(page.locator("#view-alerts")).to_be_hidden()
    assert page.evaluate("sessionStorage.length") == 0


def test_the_page_and_its_assets_need_no_key_and_nothing_from_the_internet(
    service: AggregatorService,
) -> None:
    page = httpx.get(service.api_url + "/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    for asset in (
        "app.js",
        "api.js",
        "alerts.js",
        "siteplan.js",
        "devices.js",
        "dom.js",
        "silences.js",
        "sound.js",
    ):
        text = httpx.get(f"{service.api_url}/dashboard/{asset}").raise_for_status().text
        text = text.replace("http://www.w3.org/2000/svg", "")  # the SVG namespace: a name, not a fetch
        assert "http://" not in text and "https://" not in text, f"{asset} refers to the network"
    assert "url(" not in httpx.get(f"{service.api_url}/dashboard/style.css").text  # no fonts or images
    assert httpx.get(f"{service.api_url}/api/v1/alerts").status_code == 401  # the data is not public
    assert json.loads(httpx.get(f"{service.api_url}/openapi.json").text)["paths"]  # routes not shadowed


def test_a_key_revoked_during_the_session_sends_the_user_back_to_sign_in(
    service: AggregatorService, page: Page
) -> None:
    db = str(service.store.path)
    sign_in(page, service, cli("aggregator", "user", "add", "olga", "--role", "operator", "--db", db))
    expect(page.locator("#connection")).to_have_text("Live feed: live")
    cli("aggregator", "user", "remove", "olga", "--db", db)
    page.get_by_role("combobox").select_option("all")  # the next request the page makes
    refused = "The aggregator no longer accepts this key: sign in again."
    expect(page.locator("#login-error")).to_have_text(refused)
    expect(page.locator("#view-alerts")).to_be_hidden()
    assert page.evaluate("sessionStorage.length") == 0
