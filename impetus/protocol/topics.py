"""MQTT topic scheme of protocol v1.

| topic                                     | direction          | retained | payload         |
|-------------------------------------------|--------------------|----------|-----------------|
| impetus/v1/{site}/{device_id}/events/{t}  | device -> broker   | no       | event envelope  |
| impetus/v1/{site}/{device_id}/status      | device -> broker   | yes      | status envelope |
| impetus/v1/{site}/{device_id}/health      | device -> broker   | no       | health envelope |
| impetus/v1/{site}/{device_id}/config      | aggregator -> dev. | yes      | device config   |
| impetus/v1/{site}/{device_id}/cmd         | aggregator -> dev. | no       | command         |
| impetus/v1/{site}/{device_id}/snapshot    | device -> broker   | no       | snapshot reply  |

The Last Will on `status` is an `offline` status envelope.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ROOT = "impetus/v1"
NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_NAME_RE = re.compile(NAME_PATTERN)
SHARED_GROUP = "aggregator"


class TopicError(ValueError):
    """A topic that is not part of the v1 scheme."""


def check_name(kind: str, value: str) -> str:
    if not _NAME_RE.match(value):
        raise TopicError(
            f"{kind} {value!r} is not a valid name: expected 1-64 of a-z, 0-9, '_' or '-', "
            "starting with a letter or digit"
        )
    return value


def event_topic(site: str, device_id: str, event_type: str) -> str:
    return f"{ROOT}/{check_name('site', site)}/{check_name('device_id', device_id)}/events/{event_type}"


def status_topic(site: str, device_id: str) -> str:
    return f"{ROOT}/{check_name('site', site)}/{check_name('device_id', device_id)}/status"


def health_topic(site: str, device_id: str) -> str:
    return f"{ROOT}/{check_name('site', site)}/{check_name('device_id', device_id)}/health"


def config_topic(site: str, device_id: str) -> str:
    return f"{ROOT}/{check_name('site', site)}/{check_name('device_id', device_id)}/config"


def cmd_topic(site: str, device_id: str) -> str:
    return f"{ROOT}/{check_name('site', site)}/{check_name('device_id', device_id)}/cmd"


def snapshot_topic(site: str, device_id: str) -> str:
    """Where a device answers a snapshot request (see `impetus.protocol.snapshots`)."""
    return f"{ROOT}/{check_name('site', site)}/{check_name('device_id', device_id)}/snapshot"


def topic_for(site: str, device_id: str, event_type: str) -> str:
    """Where a message of this type is published: status and health have topics of their own."""
    if event_type == "status":
        return status_topic(site, device_id)
    if event_type == "health":
        return health_topic(site, device_id)
    return event_topic(site, device_id, event_type)


def ingest_subscriptions(shared: bool = False) -> list[str]:
    """What an aggregator subscribes to; `shared` spreads ingest over replicas on a cluster."""
    topics = [f"{ROOT}/+/+/events/+", f"{ROOT}/+/+/status", f"{ROOT}/+/+/health"]
    if shared:
        return [f"$share/{SHARED_GROUP}/{t}" for t in topics]
    return topics


@dataclass(frozen=True)
class TopicParts:
    site: str
    device_id: str
    channel: str
    event_type: str | None


def parse_topic(topic: str) -> TopicParts:
    parts = topic.split("/")
    if len(parts) < 5 or "/".join(parts[:2]) != ROOT:
        raise TopicError(f"topic {topic!r} is not under {ROOT}/{{site}}/{{device_id}}/...")
    site, device_id, channel = parts[2], parts[3], parts[4]
    check_name("site", site)
    check_name("device_id", device_id)
    if channel == "events" and len(parts) == 6:
        return TopicParts(site, device_id, channel, parts[5])
    if channel in ("status", "health", "config", "cmd", "snapshot") and len(parts) == 5:
        return TopicParts(site, device_id, channel, channel if channel in ("status", "health") else None)
    raise TopicError(f"topic {topic!r}: unknown channel {'/'.join(parts[4:])!r}")
