"""API latency: the alert list (the operator's main view) with 1,000,000 stored events.

The database is filled the fast way (events rows written straight into SQLite from one valid
envelope, alerts through the alert store with links to their events), then the real API runs on
uvicorn and is asked over HTTP with an operator's key: the default list, a status filter, a type
filter, and a deep page (the last one of 20,000 alerts) reached by cursor (`before`, keyset
paging) and, for comparison, by `offset`; `--requests` times each. Goal: p99 <= 50 ms for every
query but the offset one, which is kept for compatibility and slows with depth.

    python benchmarks/api.py [--events 1000000] [--alerts 20000] [--requests 300]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np

from impetus.aggregator.alerts_store import AlertStore, HistoryEntry
from impetus.aggregator.service import AggregatorService
from impetus.aggregator.soc import SocConfig
from impetus.aggregator.store import EventStore
from impetus.protocol import ClockQuality, PrivacyStamp, format_ts, make_event

RESULTS = Path(__file__).resolve().parent / "results"
SITE = "bench"
KEY = "imp_benchmark-key"
GOAL_P99_MS = 50.0
TYPES = ("crowd", "gunshot", "left_object", "tamper")
DEEP = 19_900
"""Alerts in front of the deep page: with the default 20,000 alerts, the last page of 100."""
OFFSET_QUERY = f"offset {DEEP}"


def queries(newest_id: int) -> dict[str, dict[str, int | str]]:
    """What the operator asks, by name; the deep pages start `DEEP` alerts below the newest."""
    deep_cursor = max(1, newest_id - DEEP + 1)
    return {
        "newest 100": {},
        "status=new": {"status": "new"},
        "type=gunshot": {"type": "gunshot"},
        f"cursor at {DEEP}": {"limit": 100, "before": deep_cursor},
        f"gunshot, cursor {DEEP}": {"type": "gunshot", "limit": 100, "before": deep_cursor},
        OFFSET_QUERY: {"limit": 100, "offset": DEEP},
    }


def fill(db_path: Path, events: int, alerts: int) -> None:
    EventStore(db_path).close()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    template = make_event(
        "crowd",
        device_id="cam-000",
        site=SITE,
        seq=0,
        ts=start,
        clock=ClockQuality(source="ntp", offset_ms=0.5),
        privacy=PrivacyStamp(policy_id="default", policy_version=1),
        zone="z0",
        payload={"count": 120, "area_m2": 100.0, "density": 1.2, "level_of_service": "C"},
    )
    body = template.to_bytes().decode("utf-8")
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")
    chunk = 50_000
    for first in range(0, events, chunk):
        rows = []
        for n in range(first, min(first + chunk, events)):
            ts = format_ts(start + timedelta(milliseconds=100 * n))
            rows.append(
                (
                    f"ev-{n:09d}",
                    f"cam-{n % 200:03d}",
                    SITE,
                    f"z{n % 20}",
                    TYPES[n % 4],
                    ts,
                    ts,
                    n,
                    0.9,
                    0,
                    body,
                )
            )
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        conn.execute("COMMIT")
    conn.close()
    store = AlertStore(db_path)
    per_alert = max(1, events // alerts)
    operations = []
    for a in range(alerts):
        seen = format_ts(start + timedelta(seconds=10 * per_alert * a / 100))
        fields = {
            "key": f"bench:{a}",
            "site": SITE,
            "zone": f"z{a % 20}",
            "device": None,
            "type": TYPES[a % 4],
            "title": f"{TYPES[a % 4]} at {SITE}/z{a % 20}",
            "severity": ("moderate", "severe")[a % 2],
            "urgency": "Expected",
            "certainty": "Likely",
            "status": ("new", "acknowledged", "resolved")[a % 3],
            "first_seen": seen,
            "last_seen": seen,
            "event_count": per_alert,
            "devices": [f"cam-{a % 200:03d}", f"cam-{(a + 1) % 200:03d}"],
            "confidence": 0.99,
            "untrusted": False,
            "test": False,
            "location": None,
            "sop": [{"step": 1, "text": "Look", "done": False, "by": None, "at": None}],
            "notes": [],
        }
        links = [(f"ev-{a * per_alert + k:09d}", False) for k in range(min(per_alert, 50))]
        operations.append(("create", fields, links, [HistoryEntry("system", "raised", None, "new")]))
        if len(operations) == 2000:
            store.write_batch(operations)
            operations = []
    if operations:
        store.write_batch(operations)
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--alerts", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="impetus-bench-") as tmp:
        db_path = Path(tmp) / "aggregator.db"
        began = time.monotonic()
        fill(db_path, args.events, args.alerts)
        print(
            f"filled {args.events} events and {args.alerts} alerts in {time.monotonic() - began:.0f} s",
            flush=True,
        )
        operator = SocConfig(admin_key=KEY)
        with (
            AggregatorService(None, db_path, "127.0.0.1:0", operator=operator) as service,
            httpx.Client(base_url=service.api_url, headers={"Authorization": f"Bearer {KEY}"}) as http,
        ):
            newest = http.get("/api/v1/alerts", params={"limit": 1}).json()["items"][0]["id"]
            for name, params in queries(newest).items():
                http.get("/api/v1/alerts", params=params).raise_for_status()  # warm the page cache
                times = []
                for _ in range(args.requests):
                    started = time.perf_counter()
                    response = http.get("/api/v1/alerts", params=params)
                    times.append(time.perf_counter() - started)
                    response.raise_for_status()
                ms = np.array(times) * 1000.0
                results[name] = {
                    "p50_ms": round(float(np.percentile(ms, 50)), 2),
                    "p99_ms": round(float(np.percentile(ms, 99)), 2),
                    "items": len(response.json()["items"]),
                    "total": response.json()["total"],
                }
    print(f"{'GET /api/v1/alerts':20}{'p50 ms':>10}{'p99 ms':>10}{'items':>8}{'total':>8}")
    for name, row in results.items():
        print(f"{name:20}{row['p50_ms']:10.1f}{row['p99_ms']:10.1f}{row['items']:8}{row['total']:8}")
    worst = max(row["p99_ms"] for name, row in results.items() if name != OFFSET_QUERY)
    print(
        f"goal p99 <= {GOAL_P99_MS:.0f} ms: {'met' if worst <= GOAL_P99_MS else 'NOT met'} "
        f"(worst {worst:.1f} ms, {OFFSET_QUERY} not counted)"
    )
    RESULTS.mkdir(exist_ok=True)
    result = {
        "benchmark": "api",
        "when": datetime.now(UTC).isoformat(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "events": args.events,
        "alerts": args.alerts,
        "requests_per_query": args.requests,
        "queries": results,
        "worst_p99_ms": worst,
        "goal_p99_ms": GOAL_P99_MS,
    }
    (RESULTS / "api.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
