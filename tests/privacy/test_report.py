"""The DPIA-ready report carries the policy, the measured figures, the chain status and the
before/after examples from the public test set; a PDF beside it where Chromium is installed."""

from __future__ import annotations

import shutil
from pathlib import Path

from impetus.privacy.audit import AuditLog, segments
from impetus.privacy.report import ReportInputs, write_report


def test_the_report_shows_policy_figures_chain_status_and_examples(
    tmp_path: Path, photos: list[Path]
) -> None:
    good = AuditLog(tmp_path / "good")
    good.append("policy", {"policy_id": "counting-only", "version": 1})
    bad = AuditLog(tmp_path / "bad")
    bad.append("policy", {"policy_id": "counting-only", "version": 1})
    bad.append("note", {"text": "x"})
    path = segments(bad.folder)[0]
    path.write_bytes(path.read_bytes().replace(b'"x"', b'"y"'))

    written = write_report(
        ReportInputs(
            out=tmp_path / "dpia.html",
            policies=["counting-only", "counting-with-redacted-snapshots"],
            audit_dirs=[good.folder, bad.folder],
        )
    )
    text = (tmp_path / "dpia.html").read_text()
    assert "counting-with-redacted-snapshots v1" in text and "removed before sending" in text
    assert "intact" in text and "BROKEN" in text and "seq 1" in text
    assert text.count("data:image/png;base64,") == 2 * len(photos)
    assert "faces after (independent)" in text or "Independent detector unavailable" in text
    if shutil.which("chromium"):
        assert written[-1].suffix == ".pdf" and written[-1].read_bytes().startswith(b"%PDF")
