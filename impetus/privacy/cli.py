"""`impetus privacy ...`: the privacy officer's tools.

impetus privacy anonymise IN OUT            image, folder of images or video, with a progress bar
impetus privacy effectiveness DIR           JSON summary last: images, faces before, faces after
impetus privacy verify PATH [--db DB]       exit 0 for an intact audit chain, 1 naming the first bad record
impetus privacy check --db DB               stored events and snapshots conform to the policies in force
impetus privacy retention --db DB --days N  delete older events, closed alerts, snapshots; record that it did
impetus privacy report --out FILE           DPIA-ready HTML (and PDF where a renderer exists)
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from impetus.privacy.masks import DEFAULT_MARGIN, MASK_MODES

err = Console(stderr=True)


@contextmanager
def progress_bar(label: str) -> Iterator[Any]:
    """A rich progress bar on stderr; yields `update(done, total)`."""
    with Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    ) as progress:
        task = progress.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield update


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False))


def _anonymiser_options(func: Any) -> Any:
    from impetus.privacy.faces import DEFAULT_FACE_THRESHOLD

    func = click.option(
        "--threshold",
        type=click.FloatRange(0.0, 1.0, min_open=True, max_open=True),
        default=DEFAULT_FACE_THRESHOLD,
        show_default=True,
        help="Face detector score threshold.",
    )(func)
    func = click.option(
        "--margin",
        type=click.FloatRange(min=1.0),
        default=DEFAULT_MARGIN,
        show_default=True,
        help="Mask box scale around each detection (1.3 = 30 % larger).",
    )(func)
    func = click.option(
        "--mode", type=click.Choice(MASK_MODES), default="blur", show_default=True, help="How to mask."
    )(func)
    func = click.option("--no-plates", is_flag=True, help="Do not mask plate-shaped text.")(func)
    func = click.option("--persons", is_flag=True, help="Also mask whole people (YOLOv3-tiny).")(func)
    return func


def _anonymiser(threshold: float, margin: float, mode: str, no_plates: bool, persons: bool = False) -> Any:
    from impetus.privacy.anonymiser import Anonymiser, AnonymiserSettings

    settings = AnonymiserSettings(
        face_threshold=threshold,
        margin=margin,
        mode=mode,  # type: ignore[arg-type]
        plates=not no_plates,
        persons=persons,
    )
    return Anonymiser(settings)


@click.group("privacy")
def privacy_cli() -> None:
    """Privacy officer's tools: anonymise, measure, verify the audit chain, check, retain, report."""


@privacy_cli.command("anonymise")
@click.argument("source", type=click.Path(path_type=Path))
@click.argument("target", type=click.Path(path_type=Path))
@_anonymiser_options
@click.option(
    "--audit", "audit_dir", type=click.Path(path_type=Path), help="Append each run to this audit log."
)
@click.option(
    "--runs", "runs_path", type=click.Path(path_type=Path), help="Write every run as JSON lines here."
)
def anonymise_command(
    source: Path,
    target: Path,
    threshold: float,
    margin: float,
    mode: str,
    no_plates: bool,
    persons: bool,
    audit_dir: Path | None,
    runs_path: Path | None,
) -> None:
    """Anonymise an image, a folder of images or a video (faces and plates masked) into TARGET."""
    from impetus.privacy.anonymiser import AnonymiseError, anonymise_path
    from impetus.privacy.audit import AuditLog

    audit = AuditLog(audit_dir) if audit_dir else None
    runs_out = runs_path.open("w", encoding="utf-8") if runs_path else None
    images = faces = plates = 0
    try:
        anonymiser = _anonymiser(threshold, margin, mode, no_plates, persons)
        with progress_bar("anonymising") as update:
            for run in anonymise_path(anonymiser, source, target, update):
                images += 1
                faces += len(run.faces)
                plates += len(run.plates)
                if audit:
                    audit.append("anonymisation", run.as_record())
                if runs_out:
                    runs_out.write(json.dumps(run.as_record()) + "\n")
    except AnonymiseError as error:
        raise click.ClickException(str(error)) from None
    finally:
        if runs_out:
            runs_out.close()
    _echo_json({"images": images, "faces_masked": faces, "plates_masked": plates, "output": str(target)})


@privacy_cli.command("effectiveness")
@click.argument("folder", type=click.Path(path_type=Path))
@_anonymiser_options
@click.option(
    "--independent-threshold",
    type=click.FloatRange(0.0, 1.0),
    default=None,
    help="Confidence at which the independent detector counts a face (default 0.7).",
)
def effectiveness_command(
    folder: Path,
    threshold: float,
    margin: float,
    mode: str,
    no_plates: bool,
    persons: bool,
    independent_threshold: float | None,
) -> None:
    """Anonymise every image in FOLDER, count faces an independent detector finds before and after;
    the JSON summary is printed last."""
    from impetus.privacy.anonymiser import AnonymiseError
    from impetus.privacy.effectiveness import (
        INDEPENDENT_THRESHOLD,
        IndependentDetectorMissing,
        images_in,
        measure,
    )

    try:
        images = images_in(folder)
        anonymiser = _anonymiser(threshold, margin, mode, no_plates, persons)
        with progress_bar("effectiveness") as update:
            summary = measure(
                anonymiser, images, threshold=independent_threshold or INDEPENDENT_THRESHOLD, progress=update
            )
    except (AnonymiseError, IndependentDetectorMissing) as error:
        raise click.ClickException(str(error)) from None
    sys.stdout.flush()
    _echo_json(summary.as_dict())


@privacy_cli.command("verify")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--db", "db_path", type=click.Path(path_type=Path), help="Aggregator DB: compare reported heads."
)
@click.option("--device", help="Device id of the log, for --db (default: read from the log).")
def verify_command(paths: tuple[Path, ...], db_path: Path | None, device: str | None) -> None:
    """Verify audit chains (a device's log folder, or a folder of them for a site); exit 1 naming
    the first bad record of the first broken chain."""
    from impetus.privacy.audit import HEAD_FILE, read_records, verify_chain
    from impetus.privacy.conformance import heads_for

    folders: list[Path] = []
    for path in paths:
        if (path / HEAD_FILE).exists() or any(path.glob("audit-*.jsonl")) or not path.is_dir():
            folders.append(path)
        else:
            folders.extend(sorted(p for p in path.iterdir() if p.is_dir()))
    broken = []
    results = []
    for folder in folders:
        heads: list[str] = []
        if db_path is not None:
            name = device
            if name is None and folder.is_dir():
                ids = {r["data"].get("device_id") for r in read_records(folder) if r.get("kind") == "policy"}
                name = next(iter(ids - {None}), None)
            heads = heads_for(db_path, name) if name else []
        report = verify_chain(folder, reported_heads=heads)
        results.append(report.as_dict() | {"reported_heads_checked": len(heads)})
        if not report.ok:
            broken.append(report)
    _echo_json(results if len(results) > 1 else results[0])
    if broken:
        first = broken[0]
        raise click.ClickException(f"{first.folder}: first bad record {first.bad_record}: {first.problem}")


@privacy_cli.command("check")
@click.option(
    "--db", "db_path", required=True, type=click.Path(path_type=Path), help="Aggregator SQLite file."
)
@click.option(
    "--policy", "policy_files", multiple=True, type=click.Path(path_type=Path), help="Extra policy TOML."
)
@click.option("--audit", "audit_dir", type=click.Path(path_type=Path), help="A device's audit log to match.")
@click.option("--device", help="The device of --audit (default: read from the log).")
def check_command(
    db_path: Path, policy_files: tuple[Path, ...], audit_dir: Path | None, device: str | None
) -> None:
    """Check that everything stored at the aggregator conforms to the policies in force."""
    from impetus.privacy.conformance import check
    from impetus.privacy.retention import RetentionError

    try:
        report = check(db_path, policy_files=list(policy_files), audit=audit_dir, device=device)
    except RetentionError as error:
        raise click.ClickException(str(error)) from None
    _echo_json(report.as_dict())
    if not report.ok:
        raise click.ClickException(
            f"{report.violation_count} stored events do not conform (or the audit failed)"
        )


@privacy_cli.command("retention")
@click.option(
    "--db", "db_path", required=True, type=click.Path(path_type=Path), help="Aggregator SQLite file."
)
@click.option("--days", required=True, type=float, help="Keep events this many days old or newer.")
@click.option("--history", "show_history", is_flag=True, help="Print every retention run recorded so far.")
def retention_command(db_path: Path, days: float, show_history: bool) -> None:
    """Delete events, closed alerts and snapshots older than --days; record it (cut-off, counts)."""
    from impetus.privacy.retention import RetentionError, enforce, history

    try:
        run = enforce(db_path, days)
        _echo_json(history(db_path) if show_history else run.as_dict())
    except RetentionError as error:
        raise click.ClickException(str(error)) from None


@privacy_cli.command("report")
@click.option(
    "--out",
    "out_path",
    type=click.Path(path_type=Path),
    default=Path("privacy-report.html"),
    show_default=True,
    help="HTML file to write (a PDF beside it where a renderer exists).",
)
@click.option(
    "--policy",
    "policies",
    multiple=True,
    default=["counting-only"],
    show_default=True,
    help="Policy name or TOML path in force (repeatable).",
)
@click.option(
    "--audit", "audit_dirs", multiple=True, type=click.Path(path_type=Path), help="Audit log folders."
)
@click.option(
    "--db", "db_path", type=click.Path(path_type=Path), help="Aggregator DB for retention and check."
)
@click.option("--no-examples", is_flag=True, help="Skip the before/after examples (no test photos offline).")
def report_command(
    out_path: Path,
    policies: tuple[str, ...],
    audit_dirs: tuple[Path, ...],
    db_path: Path | None,
    no_examples: bool,
) -> None:
    """A DPIA-ready report: policies, anonymisation figures, chain status, before/after examples
    rendered from the public test set (never from live data)."""
    from impetus.privacy.report import ReportInputs, write_report

    written = write_report(
        ReportInputs(
            out=out_path,
            policies=list(policies),
            audit_dirs=list(audit_dirs),
            db_path=db_path,
            examples=not no_examples,
        )
    )
    _echo_json({"written": [str(p) for p in written]})
