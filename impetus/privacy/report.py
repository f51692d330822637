"""The DPIA-ready report (GDPR Art. 35): one self-contained HTML file, and a PDF beside it when a
headless Chromium is installed. Figures come from what the system itself produces: the policies,
the anonymiser measured on the public test set, the audit chains, the aggregator's retention log
and conformance check. Before/after examples are rendered from the test photos, never live data.
"""

from __future__ import annotations

import base64
import html
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from impetus.privacy.policy import PrivacyPolicy, load_policy
from impetus.protocol import format_ts

PDF_RENDERERS = ("chromium", "chromium-browser", "google-chrome")
THUMB_WIDTH = 360


@dataclass
class ReportInputs:
    out: Path
    policies: list[str] = field(default_factory=lambda: ["counting-only"])
    audit_dirs: list[Path] = field(default_factory=list)
    db_path: Path | None = None
    examples: bool = True


def _e(value: Any) -> str:
    return html.escape(str(value))


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _policy_section(policy: PrivacyPolicy) -> str:
    rows = [[t, ", ".join(r.fields) or "-", ", ".join(r.redact) or "-"] for t, r in policy.types.items()]
    return (
        f"<h3>{_e(policy.policy_id)} v{policy.version}</h3><p>{_e(policy.description)}</p>"
        + _table(["event type", "fields that may leave", "removed before sending"], rows)
        + "<p>Not listed: refused at the gate. Images and audio can never be allowed by any policy.</p>"
    )


def _png(image: np.ndarray) -> str:
    scale = THUMB_WIDTH / image.shape[1]
    thumb = cv2.resize(image, (THUMB_WIDTH, round(image.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".png", thumb)
    if not ok:
        raise RuntimeError("could not encode an example image")
    return "data:image/png;base64," + base64.b64encode(data.tobytes()).decode()


def _anonymisation_section(examples: bool) -> str:
    if not examples:
        return "<p>Examples and measurements skipped (--no-examples).</p>"
    from impetus.privacy.anonymiser import Anonymiser
    from impetus.privacy.effectiveness import IndependentDetectorMissing, measure
    from impetus.privacy.test_media import TestMediaUnavailable, face_photos

    try:
        photos = face_photos()
    except TestMediaUnavailable as error:
        return f"<p>Test photos unavailable: {_e(error)}</p>"
    anonymiser = Anonymiser()
    parts = []
    try:
        summary = measure(anonymiser, photos)
        parts.append(
            _table(
                ["images", "faces before (independent)", "faces after (independent)", "detector", "settings"],
                [
                    [
                        summary.images,
                        summary.faces_before,
                        summary.faces_after,
                        summary.independent_detector,
                        summary.settings,
                    ]
                ],
            )
        )
    except IndependentDetectorMissing as error:
        parts.append(f"<p>Independent detector unavailable here: {_e(error)}</p>")
    figures = []
    for path in photos:
        image = cv2.imread(str(path))
        masked, run = anonymiser.anonymise(image, path.name)
        figures.append(
            f"<figure><img src='{_png(image)}' alt='before'><img src='{_png(masked)}' alt='after'>"
            f"<figcaption>{_e(path.name)}: {len(run.faces)} faces, {len(run.plates)} plate-like text regions "
            f"masked ({_e(run.models)})</figcaption></figure>"
        )
    return "".join(parts) + "<h3>Before / after (public test set)</h3>" + "".join(figures)


def _chain_section(audit_dirs: list[Path]) -> str:
    from impetus.privacy.audit import verify_chain

    if not audit_dirs:
        return (
            "<p>No audit log given (--audit); verify each log with <code>impetus privacy verify</code>.</p>"
        )
    rows = []
    for folder in audit_dirs:
        report = verify_chain(folder)
        rows.append(
            [
                folder,
                "intact" if report.ok else "BROKEN",
                report.records,
                report.head or "-",
                report.bad_record or "-",
                report.problem or "-",
            ]
        )
    return _table(["audit log", "status", "records", "head", "first bad record", "problem"], rows)


def _store_section(db_path: Path | None) -> str:
    if db_path is None:
        return "<p>No aggregator database given (--db).</p>"
    from impetus.privacy.conformance import check
    from impetus.privacy.retention import history

    result = check(db_path)
    runs = history(db_path)
    parts = [
        _table(
            ["stored events", "conforming", "violations"],
            [[result.events, result.conforming, result.violation_count]],
        ),
        "<h3>Retention runs</h3>",
        _table(
            ["run at", "days", "cut-off", "events deleted", "dead letters deleted", "events left"],
            [
                [
                    r["run_at"],
                    r["days"],
                    r["cutoff"],
                    r["events_deleted"],
                    r["dead_letters_deleted"],
                    r["events_left"],
                ]
                for r in runs
            ],
        )
        if runs
        else "<p>No retention run recorded yet.</p>",
    ]
    return "".join(parts)


STYLE = """
body { font-family: sans-serif; max-width: 60em; margin: 2em auto; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
td, th { border: 1px solid #bbb; padding: 0.25em 0.5em; font-size: 0.9em; vertical-align: top; }
th { background: #eee; }
figure { display: inline-block; margin: 0.5em; } figure img { margin-right: 4px; }
"""

DPIA_STEPS = [
    ("Processing described", "Edge devices detect emergencies; only typed events leave (section 1)."),
    ("Necessity and proportionality", "Counting-only by default; snapshots only under an explicit policy."),
    ("Risks to people", "Identification from images, movement traces, function creep, breach of the store."),
    ("Measures", "On-device anonymisation, the privacy gate, audit chains, retention (sections 2-4)."),
]


def render(inputs: ReportInputs) -> str:
    policies = [load_policy(name) for name in inputs.policies]
    sections = [
        "<h2>0. DPIA outline (GDPR Art. 35, EDPB 3/2019)</h2>" + _table(["step", "where"], DPIA_STEPS),
        "<h2>1. Policies in force</h2>" + "".join(_policy_section(p) for p in policies),
        "<h2>2. Anonymisation</h2>" + _anonymisation_section(inputs.examples),
        "<h2>3. Audit chains</h2>" + _chain_section(inputs.audit_dirs),
        "<h2>4. Aggregator store: conformance and retention</h2>" + _store_section(inputs.db_path),
    ]
    generated = format_ts(datetime.now(UTC))
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>impetus privacy report</title>"
        f"<style>{STYLE}</style></head><body><h1>impetus privacy report</h1><p>Generated {generated} by "
        f"<code>impetus privacy report</code>.</p>{''.join(sections)}</body></html>"
    )


def write_report(inputs: ReportInputs) -> list[Path]:
    """Write the HTML and, where a headless Chromium exists, the PDF; returns the files written."""
    inputs.out.parent.mkdir(parents=True, exist_ok=True)
    inputs.out.write_text(render(inputs), encoding="utf-8")
    written = [inputs.out]
    renderer = next((found for name in PDF_RENDERERS if (found := shutil.which(name))), None)
    if renderer:
        pdf = inputs.out.with_suffix(".pdf")
        subprocess.run(
            [
                renderer,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                f"--print-to-pdf={pdf}",
                "--no-pdf-header-footer",
                inputs.out.resolve().as_uri(),
            ],
            capture_output=True,
            timeout=120,
            check=False,
        )
        if pdf.exists() and pdf.stat().st_size > 0:
            written.append(pdf)
    return written
