"""Plugin discovery: import every module under `detectors/` and `sources/` so each registers itself.

Adding a detector or a source is adding one file; nothing else needs to know its name.
A plugin whose optional dependency is missing (picamera2 on a laptop) is skipped with a
log line, so one absent library never takes the whole agent down.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import threading

from impetus.edge_agent.detectors.base import DETECTORS, Detector
from impetus.edge_agent.sources.base import SOURCES, Source

log = logging.getLogger(__name__)

PLUGIN_PACKAGES = ("impetus.edge_agent.detectors", "impetus.edge_agent.sources")
_lock = threading.Lock()
_loaded = False
# Module name -> why it could not be imported, for error messages and the self-test.
UNAVAILABLE: dict[str, str] = {}


def load_plugins() -> None:
    """Import every plugin module once per process (thread-safe, cheap after the first call)."""
    global _loaded
    with _lock:
        if _loaded:
            return
        for package_name in PLUGIN_PACKAGES:
            package = importlib.import_module(package_name)
            for module in pkgutil.iter_modules(package.__path__, prefix=f"{package_name}."):
                if module.name.endswith(".base"):
                    continue
                try:
                    importlib.import_module(module.name)
                except ImportError as error:
                    UNAVAILABLE[module.name] = str(error)
                    log.info("plugin %s is not available here: %s", module.name, error)
        _loaded = True


def detectors() -> dict[str, type[Detector]]:
    load_plugins()
    return DETECTORS


def sources() -> dict[str, type[Source]]:
    load_plugins()
    return SOURCES
