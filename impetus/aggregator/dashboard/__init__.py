"""The SOC dashboard: static HTML, CSS and ES modules served by the API, no build step, no CDN.

    mount_dashboard(app)   # `/` answers the page, `/dashboard/*` its assets

Everything it draws comes from the API (alerts, site plan, devices) over the operator's key, so it
works on a control-room network with no internet: the site plan is SVG drawn from the site
description, never map tiles. The assets hold no data, so they are served without a key; every
data request the page makes carries `Authorization: Bearer KEY`.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"
ASSETS_PREFIX = "/dashboard"


def mount_dashboard(app: FastAPI) -> None:
    """Serve the page at `/` and its assets under `/dashboard/`.

    The assets live under a prefix of their own rather than a catch-all mount at `/`, so routes
    added to `app` later are never shadowed by the mount.
    """
    index = STATIC_DIR / "index.html"
    if not index.is_file():
        raise FileNotFoundError(f"dashboard page missing: expected {index} (is the package data installed?)")

    @app.get("/", include_in_schema=False)
    def dashboard_page() -> FileResponse:
        return FileResponse(index, headers={"Cache-Control": "no-cache"})

    app.mount(ASSETS_PREFIX, StaticFiles(directory=STATIC_DIR), name="dashboard")
