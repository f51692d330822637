"""The device's tamper-evident audit log: append-only JSON lines, each record chained to the last.

Every record carries `seq` (0, 1, 2 ...), `prev` (the hash of the record before; 64 zeros for the
first one ever) and `hash` = SHA-256 of its canonical JSON without `hash`. Changing a record breaks
its hash, deleting one breaks `seq` and `prev` of the next, and cutting the end off is caught by
the `HEAD` file written after every append and by the heads the device reported in `health`.

Size is bounded: the log is split into segments of `max_segment_bytes`; each new segment opens
with a `rotation` record naming the previous segment's head, and when more than `max_segments`
exist the oldest is deleted and a `pruned` record says which one, up to which seq and hash. So the
chain that is left still verifies from its first record to `HEAD`.

>>> log = AuditLog(Path("/var/lib/impetus/outbox-audit"))
>>> log.append("policy", {"policy_id": "counting-only", "version": 1})
>>> verify_chain(log.folder).ok
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from impetus.protocol import canonical_json, format_ts

GENESIS = "0" * 64
HEAD_FILE = "HEAD"
SEGMENT_GLOB = "audit-*.jsonl"
KINDS = ("policy", "sent", "refused", "anonymisation", "rotation", "pruned", "note")


class AuditError(RuntimeError):
    """The audit log cannot be used; the message names the folder and the problem."""


def record_hash(record: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json({k: v for k, v in record.items() if k != "hash"})).hexdigest()


def segment_name(number: int) -> str:
    return f"audit-{number:06d}.jsonl"


def segments(folder: Path) -> list[Path]:
    return sorted(folder.glob(SEGMENT_GLOB))


def read_head(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / HEAD_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except ValueError as error:
        raise AuditError(f"{folder / HEAD_FILE}: not JSON ({error})") from None


class AuditLog:
    """Append-only, hash-chained, rotated; safe to share between threads of one process."""

    def __init__(
        self, folder: Path | str, *, max_segment_bytes: int = 1_000_000, max_segments: int = 8
    ) -> None:
        if max_segment_bytes < 1024 or max_segments < 2:
            raise ValueError("max_segment_bytes must be >= 1024 and max_segments >= 2")
        self.folder = Path(folder)
        if self.folder.exists() and not self.folder.is_dir():
            raise AuditError(f"{self.folder}: exists and is not a directory; expected the audit log folder")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.max_segment_bytes = max_segment_bytes
        self.max_segments = max_segments
        self._lock = threading.Lock()
        head = read_head(self.folder)
        existing = segments(self.folder)
        if head is None and existing:
            raise AuditError(
                f"{self.folder}: segments exist but {HEAD_FILE} is missing; run `impetus privacy verify`"
            )
        self._seq = -1 if head is None else int(head["seq"])
        self._head = GENESIS if head is None else str(head["hash"])
        self._segment = int(existing[-1].stem.split("-")[1]) if existing else 1

    @property
    def head(self) -> str:
        """The hash of the newest record (what `health.audit_head` carries); 64 zeros when empty."""
        with self._lock:
            return self._head

    @property
    def last_seq(self) -> int:
        with self._lock:
            return self._seq

    def append(self, kind: str, data: dict[str, Any], *, ts: datetime | None = None) -> dict[str, Any]:
        if kind not in KINDS:
            raise ValueError(f"unknown audit record kind {kind!r}; expected one of {', '.join(KINDS)}")
        with self._lock:
            path = self.folder / segment_name(self._segment)
            if path.exists() and path.stat().st_size >= self.max_segment_bytes:
                self._rotate(path)
                path = self.folder / segment_name(self._segment)
            return self._write(path, kind, data, ts)

    def _write(self, path: Path, kind: str, data: dict[str, Any], ts: datetime | None) -> dict[str, Any]:
        record = {
            "seq": self._seq + 1,
            "ts": format_ts(ts or datetime.now(UTC)),
            "kind": kind,
            "data": data,
            "prev": self._head,
        }
        record["hash"] = record_hash(record)
        with path.open("ab") as out:
            start = out.tell()
            try:
                out.write(canonical_json(record) + b"\n")
                out.flush()
            except OSError:
                # A full disk may take half a line: cut it off so the chain stays verifiable.
                with contextlib.suppress(OSError):
                    out.truncate(start)
                raise
        self._seq, self._head = record["seq"], record["hash"]
        head_tmp = self.folder / f"{HEAD_FILE}.tmp"
        head_tmp.write_text(json.dumps({"seq": self._seq, "hash": self._head, "segment": path.name}))
        os.replace(head_tmp, self.folder / HEAD_FILE)
        return record

    def _rotate(self, full: Path) -> None:
        closing = {"segment": full.name, "last_seq": self._seq, "head": self._head}
        self._segment += 1
        self._write(self.folder / segment_name(self._segment), "rotation", closing, None)
        kept = segments(self.folder)
        while len(kept) > self.max_segments:
            oldest = kept.pop(0)
            last = _last_record(oldest)
            oldest.unlink()
            current = self.folder / segment_name(self._segment)
            self._write(
                current,
                "pruned",
                {"segment": oldest.name, "last_seq": last["seq"], "head": last["hash"]},
                None,
            )


def _last_record(path: Path) -> dict[str, Any]:
    lines = path.read_bytes().splitlines()
    return json.loads(lines[-1])


@dataclass
class ChainReport:
    """What `verify_chain` found: `ok`, and otherwise the first bad record and why."""

    folder: str
    records: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    head: str | None = None
    segments: list[str] = field(default_factory=list)
    problem: str | None = None
    bad_record: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    def fail(self, where: str, problem: str) -> ChainReport:
        self.bad_record, self.problem = where, problem
        return self

    def as_dict(self) -> dict[str, Any]:
        return {
            "folder": self.folder,
            "ok": self.ok,
            "records": self.records,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "head": self.head,
            "segments": self.segments,
            "bad_record": self.bad_record,
            "problem": self.problem,
        }


def _where(path: Path, line: int, seq: Any) -> str:
    return f"{path.name} line {line} (seq {seq})"


def verify_chain(folder: Path | str, *, reported_heads: list[str] | None = None) -> ChainReport:
    """Check every record, the links between them, segment order, pruning and the `HEAD` file.

    `reported_heads` are heads the device sent in `health`, oldest first (from the aggregator):
    each must be a record of this chain, in that order; a missing one means records were rewritten
    or cut off after the device reported them.
    """
    folder = Path(folder)
    report = ChainReport(folder=str(folder))
    if not folder.is_dir():
        return report.fail(str(folder), "no such audit log folder")
    files = segments(folder)
    report.segments = [path.name for path in files]
    if not files:
        return report.fail(str(folder), f"no audit segments ({SEGMENT_GLOB})")
    pruned_heads: dict[str, str] = {}
    expected_prev: str | None = None
    expected_seq: int | None = None
    positions: dict[str, int] = {}
    previous: dict[str, Any] | None = None
    for index, path in enumerate(files):
        raw = path.read_bytes()
        if raw and not raw.endswith(b"\n"):
            count = raw.count(b"\n") + 1
            return report.fail(
                _where(path, count, "?"), "the last line is cut off (the log was truncated mid-record)"
            )
        for number, line in enumerate(raw.splitlines(), start=1):
            try:
                record = json.loads(line)
                seq, prev, stored = record["seq"], record["prev"], record["hash"]
            except (ValueError, KeyError, TypeError):
                return report.fail(_where(path, number, "?"), "not a JSON audit record")
            where = _where(path, number, seq)
            if record_hash(record) != stored:
                return report.fail(where, "its content does not match its hash (the record was modified)")
            if expected_seq is None:
                if index != 0 or number != 1:
                    return report.fail(where, "unexpected position of the first record")
                if seq != 0 and record.get("kind") != "rotation":
                    return report.fail(
                        where, f"the log starts at seq {seq} without a rotation record (records deleted)"
                    )
                if seq == 0 and prev != GENESIS:
                    return report.fail(where, "seq 0 does not start from the genesis hash")
                report.first_seq = seq
            else:
                if seq != expected_seq:
                    return report.fail(
                        where,
                        f"expected seq {expected_seq} after {_where_prev(previous)}, found {seq} "
                        f"(record {expected_seq} was deleted)"
                        if isinstance(seq, int) and seq > expected_seq
                        else f"expected seq {expected_seq}, found {seq} (records reordered or replayed)",
                    )
                if prev != expected_prev:
                    return report.fail(where, "its prev does not match the hash of the record before")
            if number == 1 and index > 0 and record.get("kind") != "rotation":
                return report.fail(where, "a segment must open with a rotation record")
            if record.get("kind") == "rotation" and number != 1:
                return report.fail(where, "a rotation record in the middle of a segment")
            if record.get("kind") == "pruned":
                pruned_heads[record["data"]["head"]] = record["data"]["segment"]
            positions[stored] = seq
            expected_seq, expected_prev, previous = seq + 1, stored, record
            report.records += 1
    assert previous is not None
    first = json.loads(files[0].read_bytes().splitlines()[0])
    if first["seq"] != 0 and first["prev"] not in pruned_heads:
        return report.fail(
            _where(files[0], 1, first["seq"]),
            "the chain starts after a segment that no pruned record accounts for (segment deleted)",
        )
    report.last_seq, report.head = previous["seq"], previous["hash"]
    head = read_head(folder)
    if head is None:
        return report.fail(HEAD_FILE, f"{HEAD_FILE} is missing")
    if head.get("hash") != previous["hash"] or head.get("seq") != previous["seq"]:
        if isinstance(head.get("seq"), int) and head["seq"] > previous["seq"]:
            return report.fail(
                f"seq {previous['seq'] + 1}",
                f"{HEAD_FILE} says the chain ends at seq {head['seq']}, the log ends at seq "
                f"{previous['seq']} (the log was truncated)",
            )
        return report.fail(HEAD_FILE, f"{HEAD_FILE} does not match the last record (seq {previous['seq']})")
    last_position = -1
    for number, reported in enumerate(reported_heads or [], start=1):
        if reported == GENESIS:
            continue
        position = positions.get(reported)
        if position is None:
            if reported in pruned_heads:
                continue
            return report.fail(
                f"reported head {number} ({reported[:12]}...)",
                "a head the device reported in health is not in this chain (rewritten or truncated after it)",
            )
        if position < last_position:
            return report.fail(f"reported head {number} ({reported[:12]}...)", "reported heads go backwards")
        last_position = position
    return report


def _where_prev(record: dict[str, Any] | None) -> str:
    return "the start" if record is None else f"seq {record['seq']}"


def read_records(folder: Path | str) -> list[dict[str, Any]]:
    """Every record still on disk, oldest first (no checking: use `verify_chain` for that)."""
    out = []
    for path in segments(Path(folder)):
        out.extend(json.loads(line) for line in path.read_bytes().splitlines() if line.strip())
    return out
