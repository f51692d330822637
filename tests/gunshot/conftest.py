"""The gunshot head's training code (`models/gunshot_head`: dataset, train) is importable here."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "models" / "gunshot_head"))
