"""`GET /metrics` in the Prometheus text format (version 0.0.4), for the SOC's monitoring.

Counters since the process started: events ingested by type, dead letters, events silenced or
untrusted, alerts raised, webhook deliveries. Gauges: alerts by status, ingest lag (device
timestamp to storage, last and mean of the last `LAG_WINDOW` events) and WebSocket clients.
"""

from __future__ import annotations

import threading
from collections import deque
from datetime import datetime
from typing import Any

LAG_WINDOW = 1000


class IngestMetrics:
    """An ingest listener that counts stored events by type and measures their lag."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_type: dict[str, int] = {}
        self._lags: deque[float] = deque(maxlen=LAG_WINDOW)

    def __call__(self, item: dict[str, Any]) -> None:
        ts = datetime.fromisoformat(item["ts"].replace("Z", "+00:00"))
        received = datetime.fromisoformat(item["received_at"].replace("Z", "+00:00"))
        with self._lock:
            self.by_type[item["type"]] = self.by_type.get(item["type"], 0) + 1
            self._lags.append((received - ts).total_seconds())

    def snapshot(self) -> tuple[dict[str, int], float | None, float | None]:
        with self._lock:
            lags = list(self._lags)
            return dict(self.by_type), (lags[-1] if lags else None), (sum(lags) / len(lags) if lags else None)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class MetricsText:
    """Builds the exposition: `add(name, kind, help, samples)` then `render()`."""

    def __init__(self) -> None:
        self._lines: list[str] = []

    def add(self, name: str, kind: str, help_text: str, samples: list[tuple[dict[str, str], float]]) -> None:
        self._lines.append(f"# HELP {name} {help_text}")
        self._lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            rendered = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
            self._lines.append(f"{name}{{{rendered}}} {value:g}" if rendered else f"{name} {value:g}")

    def render(self) -> str:
        return "\n".join(self._lines) + "\n"
