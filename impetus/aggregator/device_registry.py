"""Which devices may talk to this aggregator: one-time enrolment tokens, enrolled devices with
their Ed25519 public key and MQTT credentials, revocation and rotation. Its own SQLite file.

Secrets are never stored: a token is kept as its SHA-256, an MQTT password as the PBKDF2-SHA512
hash that mosquitto's password file uses (`$7$`), so the file can be copied to the broker as is.

    registry = DeviceRegistry(Path("var/registry.db"))
    token = registry.issue_token("piazza", timedelta(hours=1))
    issued = registry.enrol(token, "pole-1", public_key_b64, profile="rpi5")
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from impetus.protocol.topics import TopicError, check_name

PBKDF2_ITERATIONS = 101  # what mosquitto_passwd writes for $7$
AGGREGATOR_USER = "impetus-aggregator"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS enrol_tokens (
    token_hash TEXT PRIMARY KEY,
    site TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT,
    used_by TEXT
);
CREATE TABLE IF NOT EXISTS devices (
    device_id TEXT PRIMARY KEY,
    site TEXT NOT NULL,
    profile TEXT,
    public_key TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    enrolled_at TEXT NOT NULL,
    rotated_at TEXT,
    revoked_at TEXT
);
CREATE TABLE IF NOT EXISTS device_seqs (
    device_id TEXT PRIMARY KEY,
    enrolled_at TEXT NOT NULL,
    high INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS service_accounts (
    username TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL
);
"""


class EnrolmentRefused(Exception):
    """The token or the request cannot enrol a device; the message says why, for the technician."""


def mosquitto_hash(password: str, salt: bytes | None = None) -> str:
    """The `$7$` PBKDF2-SHA512 form of mosquitto_passwd (mosquitto >= 2.0)."""
    salt = salt or secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, PBKDF2_ITERATIONS)
    encode = base64.b64encode
    return f"$7${PBKDF2_ITERATIONS}${encode(salt).decode()}${encode(digest).decode()}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_public_key(text: str) -> Ed25519PublicKey:
    """A raw 32-byte Ed25519 public key, base64; `EnrolmentRefused` naming the problem otherwise."""
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:
        raise EnrolmentRefused("public_key: expected base64 of a raw 32-byte Ed25519 public key") from None
    if len(raw) != 32:
        raise EnrolmentRefused(f"public_key: expected 32 bytes of Ed25519 public key (got {len(raw)})")
    return Ed25519PublicKey.from_public_bytes(raw)


@dataclass(frozen=True)
class RegisteredDevice:
    device_id: str
    site: str
    profile: str | None
    public_key: Ed25519PublicKey
    public_key_b64: str
    password_hash: str
    enrolled_at: str
    rotated_at: str | None
    revoked_at: str | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class IssuedCredentials:
    """What enrolment or rotation hands the device once: the password is not kept anywhere."""

    device_id: str
    site: str
    mqtt_username: str
    mqtt_password: str


def _now() -> datetime:
    return datetime.now(UTC)


class DeviceRegistry:
    """Thread-safe; every method is one transaction."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    # -- tokens ---------------------------------------------------------------------------------

    def issue_token(self, site: str, ttl: timedelta) -> str:
        """A one-time token for one device of `site`, valid for `ttl`; only its hash is stored."""
        check_name("site", site)
        if ttl <= timedelta(0):
            raise ValueError(f"token lifetime must be positive (got {ttl})")
        token = secrets.token_urlsafe(24)
        now = _now()
        with self._lock:
            self._db.execute(
                "INSERT INTO enrol_tokens (token_hash, site, created_at, expires_at) VALUES (?, ?, ?, ?)",
                (hash_token(token), site, now.isoformat(), (now + ttl).isoformat()),
            )
        return token

    # -- enrolment ------------------------------------------------------------------------------

    def enrol(
        self, token: str, device_id: str, public_key_b64: str, profile: str | None = None
    ) -> IssuedCredentials:
        """Spend `token` on `device_id`: registers the key and issues MQTT credentials.

        Enrolling an id again (a replaced board) needs a new token and replaces key and password.
        """
        try:
            check_name("device_id", device_id)
        except TopicError as error:
            raise EnrolmentRefused(str(error)) from None
        parse_public_key(public_key_b64)
        password = secrets.token_urlsafe(24)
        now = _now()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute(
                    "SELECT * FROM enrol_tokens WHERE token_hash = ?", (hash_token(token),)
                ).fetchone()
                if row is None:
                    raise EnrolmentRefused("enrolment token is not known to this aggregator")
                if row["used_at"] is not None:
                    raise EnrolmentRefused(
                        f"enrolment token was already used (by {row['used_by']} at {row['used_at']}); "
                        "ask for a new one: impetus aggregator token --site " + row["site"]
                    )
                if datetime.fromisoformat(row["expires_at"]) <= now:
                    raise EnrolmentRefused(
                        f"enrolment token expired at {row['expires_at']}; ask for a new one: "
                        f"impetus aggregator token --site {row['site']}"
                    )
                site = row["site"]
                self._db.execute(
                    "UPDATE enrol_tokens SET used_at = ?, used_by = ? WHERE token_hash = ?",
                    (now.isoformat(), device_id, hash_token(token)),
                )
                self._db.execute(
                    "INSERT INTO devices (device_id, site, profile, public_key, password_hash, enrolled_at) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (device_id) DO UPDATE SET site = excluded.site, "
                    "profile = excluded.profile, public_key = excluded.public_key, "
                    "password_hash = excluded.password_hash, enrolled_at = excluded.enrolled_at, "
                    "rotated_at = NULL, revoked_at = NULL",
                    (device_id, site, profile, public_key_b64, mosquitto_hash(password), now.isoformat()),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return IssuedCredentials(device_id, site, device_id, password)

    def rotate(self, device_id: str, public_key_b64: str | None = None) -> IssuedCredentials:
        """A new MQTT password (and optionally a new signing key) for an active device."""
        device = self.device(device_id)
        if device is None or not device.active:
            raise EnrolmentRefused(f"device {device_id!r} is not enrolled or is revoked")
        key = public_key_b64 or device.public_key_b64
        parse_public_key(key)
        password = secrets.token_urlsafe(24)
        with self._lock:
            self._db.execute(
                "UPDATE devices SET password_hash = ?, public_key = ?, rotated_at = ? WHERE device_id = ?",
                (mosquitto_hash(password), key, _now().isoformat(), device_id),
            )
        return IssuedCredentials(device_id, device.site, device_id, password)

    def revoke(self, device_id: str) -> bool:
        """Refuse the device from now on; False when it was not enrolled (or already revoked)."""
        with self._lock:
            cursor = self._db.execute(
                "UPDATE devices SET revoked_at = ? WHERE device_id = ? AND revoked_at IS NULL",
                (_now().isoformat(), device_id),
            )
        return cursor.rowcount == 1

    # -- lookups --------------------------------------------------------------------------------

    def device(self, device_id: str) -> RegisteredDevice | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM devices WHERE device_id = ?", (device_id,)).fetchone()
        return None if row is None else _device(row)

    def devices(self) -> list[RegisteredDevice]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM devices ORDER BY site, device_id").fetchall()
        return [_device(row) for row in rows]

    # -- replay protection ----------------------------------------------------------------------

    def last_seq(self, device_id: str, enrolled_at: str) -> int | None:
        """The highest `seq` accepted from this enrolment of the device, as last saved."""
        with self._lock:
            row = self._db.execute(
                "SELECT high FROM device_seqs WHERE device_id = ? AND enrolled_at = ?",
                (device_id, enrolled_at),
            ).fetchone()
        return None if row is None else int(row["high"])

    def save_last_seqs(self, highs: dict[str, tuple[str, int]]) -> None:
        """device_id -> (enrolled_at, highest seq), in one transaction; a new enrolment replaces
        the old count, an older save never lowers it."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT INTO device_seqs (device_id, enrolled_at, high) VALUES (?, ?, ?) "
                    "ON CONFLICT (device_id) DO UPDATE SET high = CASE "
                    "WHEN device_seqs.enrolled_at = excluded.enrolled_at "
                    "THEN max(device_seqs.high, excluded.high) ELSE excluded.high END, "
                    "enrolled_at = excluded.enrolled_at",
                    [(device_id, enrolled_at, high) for device_id, (enrolled_at, high) in highs.items()],
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def service_password_hash(self, username: str = AGGREGATOR_USER) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT password_hash FROM service_accounts WHERE username = ?", (username,)
            ).fetchone()
        return None if row is None else str(row["password_hash"])

    def reset_service_password(self, username: str = AGGREGATOR_USER) -> str:
        """A new password for the aggregator's own broker account; returned once, stored hashed."""
        password = secrets.token_urlsafe(24)
        with self._lock:
            self._db.execute(
                "INSERT INTO service_accounts (username, password_hash) VALUES (?, ?) "
                "ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash",
                (username, mosquitto_hash(password)),
            )
        return password


def _device(row: sqlite3.Row) -> RegisteredDevice:
    return RegisteredDevice(
        device_id=row["device_id"],
        site=row["site"],
        profile=row["profile"],
        public_key=parse_public_key(row["public_key"]),
        public_key_b64=row["public_key"],
        password_hash=row["password_hash"],
        enrolled_at=row["enrolled_at"],
        rotated_at=row["rotated_at"],
        revoked_at=row["revoked_at"],
    )
