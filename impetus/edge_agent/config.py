"""An agent's config, from the two files a technician works with.

- A **firmware profile** (`firmware_profiles/<name>.toml`): what the board can do — which
  detectors run and with which settings, ONNX Runtime execution providers in order, budgets
  (max fps per detector, outbox size), the health interval.
- A **device file** (`impetus edge run --config FILE`): who this device is and where it stands —
  device id, site, zone, `profile = "rpi5"` (or a path), broker URL, outbox path, its sources,
  optional per-detector overrides, the site plan for placement, the privacy policy.

Every mistake is a `ConfigError` naming the file, the key and what was expected. Relative paths in
a file are relative to that file. Detector tables are checked against each plugin's own `Config`;
`max_fps` in a detector table is the runtime's budget, not the plugin's.

```toml
device_id = "pole-1"
site = "piazza"
profile = "rpi5"
broker = "mqtt://192.168.1.10:1883"
outbox = "/var/lib/impetus/outbox.sqlite"
site_plan = "piazza.toml"

[[sources]]
type = "file_video"
path = "clips/square.mp4"

[detectors.objects]
max_fps = 2
```
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from impetus.configfile import ConfigError, explain, load_toml_model, read_toml, validate
from impetus.edge_agent import plugins
from impetus.edge_agent.broker import BrokerAddress, BrokerAddressError
from impetus.edge_agent.credentials import DeviceCredentials, load_credentials
from impetus.edge_agent.detectors.base import DetectorConfig
from impetus.edge_agent.hardware import CameraSettings, GpioPins, MicrophoneSettings
from impetus.edge_agent.sources.base import SourceConfig
from impetus.privacy.policy import DEFAULT_POLICY, POLICIES_DIR, PrivacyPolicy, load_policy
from impetus.protocol.payloads import Name
from impetus.protocol.site import DevicePlacement, SiteDescription

REPO_ROOT = Path(__file__).resolve().parents[2]
PROFILES_DIR = REPO_ROOT / "firmware_profiles"
MODELS_DIR = REPO_ROOT / "models"
RUNTIME_KEYS = ("max_fps",)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OutboxBudget(Strict):
    max_rows: Annotated[int, Field(ge=10, le=10_000_000)] = 10_000
    max_in_flight: Annotated[int, Field(ge=1, le=1000)] = 100
    # fsync on every commit: survives power loss, about 4 ms per message on an SSD. Off, the
    # outbox still survives a crashed process (WAL), not a power cut.
    durable: bool = True


class FirmwareProfile(Strict):
    """A firmware profile file as written."""

    name: Name
    board: Annotated[str, Field(max_length=200)]
    description: Annotated[str, Field(max_length=1000)] = ""
    execution_providers: list[str] = Field(default_factory=lambda: ["CPUExecutionProvider"], min_length=1)
    inference_threads: Annotated[int, Field(ge=1, le=64)] = 1
    health_interval_s: Annotated[float, Field(gt=0.0, le=3600.0)] = 30.0
    # How far an audio detector may fall behind before blocks are dropped (20 x 100 ms = 2 s):
    # a short CPU stall must not cost a gunshot; video keeps only the newest frame.
    audio_buffer_blocks: Annotated[int, Field(ge=1, le=256)] = 20
    outbox: OutboxBudget = Field(default_factory=OutboxBudget)
    detectors: dict[str, dict[str, Any]] = Field(default_factory=dict)
    camera: CameraSettings | None = None
    microphone: MicrophoneSettings | None = None
    gpio: GpioPins = Field(default_factory=GpioPins)


class DeviceFile(Strict):
    """A device file as written."""

    device_id: Name
    site: Name
    zone: Name | None = None
    profile: str = "generic-linux"
    broker: str = "mqtt://127.0.0.1:1883"
    outbox: Path = Path("outbox.sqlite")
    site_plan: Path | None = None
    models_dir: Path | None = None
    privacy_policy: str = DEFAULT_POLICY
    sources: list[dict[str, Any]] = Field(min_length=1)
    detectors: dict[str, dict[str, Any]] = Field(default_factory=dict)
    credentials: Path | None = None  # written by `impetus edge provision` (impetus.edge_agent.credentials)

    @field_validator("broker")
    @classmethod
    def _broker_url(cls, value: str) -> str:
        try:
            BrokerAddress.parse(value)
        except BrokerAddressError:
            raise ValueError("a broker URL like mqtt://HOST:PORT or mqtts://HOST:PORT") from None
        return value


@dataclass(frozen=True)
class DetectorSetting:
    """One detector as the runtime runs it: the plugin's validated config plus the budget."""

    name: str
    config: DetectorConfig
    max_fps: float | None = None


@dataclass(frozen=True)
class Profile:
    """A loaded firmware profile: the file's settings with detector tables checked by their plugins."""

    settings: FirmwareProfile
    detectors: dict[str, DetectorSetting]
    path: Path | None = None

    @property
    def name(self) -> str:
        return self.settings.name


@dataclass(frozen=True)
class AgentConfig:
    """Everything one agent needs; built from files (`load_agent_config`) or in code (simulate)."""

    device_id: str
    site: str
    broker: BrokerAddress
    outbox_path: Path
    profile: Profile
    sources: tuple[SourceConfig, ...]
    detectors: dict[str, DetectorSetting]
    policy: PrivacyPolicy
    zone: str | None = None
    models_dir: Path = MODELS_DIR
    site_plan: SiteDescription | None = None
    placement: DevicePlacement | None = None
    source_path: Path | None = field(default=None, compare=False)
    credentials: DeviceCredentials | None = field(default=None, compare=False, repr=False)


def _is_path(reference: str) -> bool:
    return reference.endswith(".toml") or "/" in reference


def known_profiles() -> list[str]:
    return sorted(p.stem for p in PROFILES_DIR.glob("*.toml"))


def _budget(path: Path, key: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(path, [f"{key}: expected a number of frames per second > 0 (got {value!r})"])
    return float(value)


def resolve_detector(
    path: Path, name: str, table: dict[str, Any], prefix: str = "detectors"
) -> DetectorSetting:
    """One detector table -> its plugin's config, errors keyed `detectors.NAME.KEY`."""
    known = plugins.detectors()
    if name not in known:
        installed = ", ".join(sorted(known)) or "none"
        missing = [f"{prefix}.{name}: detector {name!r} is not installed; known: {installed}"]
        missing += [
            f"(plugin {module} could not be imported: {why})" for module, why in plugins.UNAVAILABLE.items()
        ]
        raise ConfigError(path, missing)
    body = dict(table)
    runtime = {key: body.pop(key) for key in RUNTIME_KEYS if key in body}
    if body.get("type", name) != name:
        raise ConfigError(
            path, [f"{prefix}.{name}.type: expected {name!r} or no type key (got {body['type']!r})"]
        )
    body["type"] = name
    try:
        config = known[name].Config.model_validate(body)
    except ValidationError as error:
        raise ConfigError(path, [f"{prefix}.{name}.{line}" for line in explain(error)]) from None
    return DetectorSetting(name, config, _budget(path, f"{prefix}.{name}.max_fps", runtime.get("max_fps")))


def resolve_source(path: Path, index: int, table: dict[str, Any]) -> SourceConfig:
    known = plugins.sources()
    kind = table.get("type")
    if kind not in known:
        raise ConfigError(path, [f"sources.{index}.type: expected one of {sorted(known)} (got {kind!r})"])
    body = dict(table)
    if isinstance(body.get("path"), str) and not Path(body["path"]).is_absolute():
        body["path"] = str(path.parent / body["path"])
    try:
        return known[kind].Config.model_validate(body)
    except ValidationError as error:
        raise ConfigError(path, [f"sources.{index}.{line}" for line in explain(error)]) from None


def load_profile(
    reference: str | Path, relative_to: Path | None = None, require_detectors: bool = True
) -> Profile:
    """A shipped profile by name (`rpi5`) or a profile file by path.

    `require_detectors=False` (the simulator) leaves out detectors that are not installed here
    instead of refusing the profile.
    """
    text = str(reference)
    if _is_path(text):
        path = Path(text) if relative_to is None or Path(text).is_absolute() else relative_to / text
    else:
        path = PROFILES_DIR / f"{text}.toml"
        if not path.is_file():
            raise ConfigError(
                path, [f"no firmware profile named {text!r}; known: {', '.join(known_profiles())}"]
            )
    settings = load_toml_model(path, FirmwareProfile)
    installed = plugins.detectors()
    detectors = {
        name: resolve_detector(path, name, table)
        for name, table in settings.detectors.items()
        if require_detectors or name in installed
    }
    return Profile(settings=settings, detectors=detectors, path=path)


def _site_plan(path: Path, device: DeviceFile) -> tuple[SiteDescription | None, DevicePlacement | None]:
    if device.site_plan is None:
        return None, None
    plan_path = device.site_plan if device.site_plan.is_absolute() else path.parent / device.site_plan
    plan = load_toml_model(plan_path, SiteDescription)
    if plan.site != device.site:
        raise ConfigError(
            path, [f"site: expected {plan.site!r} as in the site plan {plan_path} (got {device.site!r})"]
        )
    try:
        placement = plan.device(device.device_id)
    except KeyError:
        on_plan = ", ".join(d.device_id for d in plan.devices) or "none"
        raise ConfigError(
            path,
            [
                f"device_id: expected a device of the site plan {plan_path} ({on_plan}) "
                f"(got {device.device_id!r})"
            ],
        ) from None
    return plan, placement


def _policy(path: Path, reference: str) -> PrivacyPolicy:
    if _is_path(reference):
        candidate = Path(reference)
        return load_policy(candidate if candidate.is_absolute() else path.parent / candidate)
    if not (POLICIES_DIR / f"{reference}.toml").is_file():
        shipped = ", ".join(sorted(p.stem for p in POLICIES_DIR.glob("*.toml")))
        raise ConfigError(
            path, [f"privacy_policy: expected a shipped policy ({shipped}) or a path (got {reference!r})"]
        )
    return load_policy(reference)


def merge_detectors(
    path: Path, profile: Profile, overrides: dict[str, dict[str, Any]]
) -> dict[str, DetectorSetting]:
    """The profile's detectors with the device file's overrides laid over them, key by key."""
    merged = dict(profile.detectors)
    for name, table in overrides.items():
        if name not in profile.settings.detectors:
            raise ConfigError(
                path,
                [
                    f"detectors.{name}: expected a detector of profile {profile.name} "
                    f"({', '.join(profile.settings.detectors) or 'none'}) (got {name!r})"
                ],
            )
        merged[name] = resolve_detector(path, name, {**profile.settings.detectors[name], **table})
    return merged


def _relative(path: Path, value: Path) -> Path:
    return value if value.is_absolute() else path.parent / value


def load_agent_config(path: Path | str) -> AgentConfig:
    """Read a device file and everything it points to; `ConfigError` on the first bad file."""
    path = Path(path)
    device = validate(path, read_toml(path), DeviceFile)
    profile = load_profile(device.profile, relative_to=path.parent)
    plan, placement = _site_plan(path, device)
    return AgentConfig(
        device_id=device.device_id,
        site=device.site,
        zone=device.zone or (placement.zone if placement else None),
        broker=BrokerAddress.parse(device.broker),
        outbox_path=_relative(path, device.outbox),
        profile=profile,
        sources=tuple(resolve_source(path, i, table) for i, table in enumerate(device.sources)),
        detectors=merge_detectors(path, profile, device.detectors),
        policy=_policy(path, device.privacy_policy),
        models_dir=_relative(path, device.models_dir) if device.models_dir else MODELS_DIR,
        site_plan=plan,
        placement=placement,
        source_path=path,
        credentials=load_credentials(_relative(path, device.credentials)) if device.credentials else None,
    )
