"""The only way an image may leave a device: an operator-requested snapshot, under a policy with a
`[snapshots]` table, anonymised first, rate-limited, and recorded in the audit log (what was found
and masked, by which model, the digest of the JPEG that left). Under any other policy - the
default - the request is refused and the refusal is audited.

>>> gate = SnapshotGate(policy, audit)
>>> jpeg = gate.release(frame, requested_by="operator-3", now=time.time())
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections import deque

import cv2
import numpy as np

from impetus.privacy.anonymiser import AnonymisationRun, Anonymiser, AnonymiserSettings
from impetus.privacy.device_audit import DeviceAudit
from impetus.privacy.gate import PrivacyRefusal
from impetus.privacy.policy import PrivacyPolicy

HOUR_S = 3600.0


def settings_for(policy: PrivacyPolicy) -> AnonymiserSettings:
    rule = policy.snapshots
    if rule is None:
        raise PrivacyRefusal(
            "snapshots_not_allowed", f"policy {policy.policy_id} v{policy.version} lets no image leave"
        )
    return AnonymiserSettings(
        face_threshold=rule.face_threshold,
        margin=rule.margin,
        mode=rule.mode,
        plates=rule.plates,
        persons=rule.persons,
    )


class SnapshotGate:
    def __init__(
        self, policy: PrivacyPolicy, audit: DeviceAudit, anonymiser: Anonymiser | None = None
    ) -> None:
        self.policy = policy
        self.audit = audit
        self._anonymiser = anonymiser
        self._released: deque[float] = deque()
        self.last_run: AnonymisationRun | None = None
        self._lock = threading.Lock()

    def refuse(self, refusal: PrivacyRefusal, *, requested_by: str, request_id: str | None = None) -> None:
        """Record a refused request; an unwritable log is no reason to send anything either."""
        record = {"type": "snapshot", "requested_by": requested_by, "reason": str(refusal)}
        if request_id is not None:
            record["request_id"] = request_id
        with contextlib.suppress(OSError):
            self.audit.log.append("refused", record)

    def release(
        self, frame: np.ndarray | None, *, requested_by: str, now: float, request_id: str | None = None
    ) -> bytes:
        """The anonymised JPEG that may leave, or `PrivacyRefusal` (audited either way).

        The anonymisation run and the digest of the JPEG are in the audit log before it is
        returned; a log that cannot be written refuses the snapshot (`audit_unwritable`)."""
        try:
            settings = settings_for(self.policy)
            rule = self.policy.snapshots
            assert rule is not None
            if frame is None:
                raise PrivacyRefusal("no_frame", "no camera frame has been captured yet")
            with self._lock:
                while self._released and now - self._released[0] >= HOUR_S:
                    self._released.popleft()
                if len(self._released) >= rule.max_per_hour:
                    raise PrivacyRefusal(
                        "snapshot_rate",
                        f"{rule.max_per_hour} snapshots in the last hour is the policy's limit",
                    )
                self._released.append(now)
        except PrivacyRefusal as refusal:
            self.refuse(refusal, requested_by=requested_by, request_id=request_id)
            raise
        if self._anonymiser is None or self._anonymiser.settings != settings:
            self._anonymiser = Anonymiser(settings)
        if frame.shape[1] > rule.max_width:
            height = round(frame.shape[0] * rule.max_width / frame.shape[1])
            frame = cv2.resize(frame, (rule.max_width, height), interpolation=cv2.INTER_AREA)
        masked, run = self._anonymiser.anonymise(frame, "snapshot")
        ok, data = cv2.imencode(".jpg", masked, [cv2.IMWRITE_JPEG_QUALITY, 85])
        if not ok:
            raise RuntimeError("could not encode the snapshot as JPEG")
        jpeg = data.tobytes()
        jpeg_sha256 = hashlib.sha256(jpeg).hexdigest()
        record = run.as_record() | {"requested_by": requested_by, "jpeg_sha256": jpeg_sha256}
        record["policy"] = self.policy_name
        if request_id is not None:
            record["request_id"] = request_id
        try:
            self.audit.anonymisation(record)
            self.audit.log.append(
                "sent", {"type": "snapshot", "request_id": request_id, "digest": jpeg_sha256}
            )
        except OSError as error:
            refusal = PrivacyRefusal(
                "audit_unwritable", f"the audit log could not record the snapshot ({error})"
            )
            self.refuse(refusal, requested_by=requested_by, request_id=request_id)
            raise refusal from error
        self.last_run = run
        return jpeg

    @property
    def policy_name(self) -> str:
        return f"{self.policy.policy_id} v{self.policy.version}"
