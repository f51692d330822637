"""Vision building blocks shared by the camera detectors: the motion gate, the object detector
backend and the tracker. Frames never leave this package; only boxes and tracks do."""
