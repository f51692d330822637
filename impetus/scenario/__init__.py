"""The scenario engine: what every sensor of a site would record during the validation exercise,
and the ground truth to score detectors against. May import `impetus.protocol` only (and numpy,
OpenCV)."""

from impetus.scenario.camera import GroundCalibration, PinholeCamera
from impetus.scenario.engine import DEFAULT_PLAN, DEFAULT_START, Scenario
from impetus.scenario.photo_sprites import PhotoSprites
from impetus.scenario.sprites import DrawnSprites, SpriteBank
from impetus.scenario.timeline import DEFAULT_TIMELINE, Timeline
from impetus.scenario.video import FrameTruth, TruthObject

__all__ = [
    "DEFAULT_PLAN",
    "DEFAULT_START",
    "DEFAULT_TIMELINE",
    "DrawnSprites",
    "FrameTruth",
    "GroundCalibration",
    "PhotoSprites",
    "PinholeCamera",
    "Scenario",
    "SpriteBank",
    "Timeline",
    "TruthObject",
]
