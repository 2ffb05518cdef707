"""The console's pages (坐席工作台 / 班长监控): static files under ``/console/`` (plain HTML/CSS/JS,
Chinese text in ``static/i18n/zh-CN.json``; the chart library is vendored by
``scripts/build_console_assets.sh``), the redirect from ``/`` and the event hub's lifecycle."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from ..deps import make_hub
from ..hub import CursorError, Hub

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
CHART_ASSET = STATIC_DIR / "vendor" / "echarts.min.js"


def mount(app: FastAPI) -> None:
    """Add the console's pages and the live-event hub to the core app."""
    app.state.console_hub = make_hub(app.state.settings)
    app.mount("/console", StaticFiles(directory=STATIC_DIR, html=True), name="console")

    if not any(getattr(r, "path", None) == "/" for r in app.router.routes):

        @app.get("/", include_in_schema=False)
        def root() -> RedirectResponse:
            return RedirectResponse("/console/")

    @app.exception_handler(CursorError)
    async def on_cursor(_: Request, exc: CursorError) -> JSONResponse:
        return JSONResponse({"detail": f"bad Last-Event-ID: {exc}"}, status_code=400)

    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: FastAPI) -> AsyncIterator[Any]:
        async with inner(a) as state:
            try:
                yield state
            finally:
                hub: Hub | None = getattr(a.state, "console_hub", None)
                if hub is not None:
                    await hub.stop()

    app.router.lifespan_context = lifespan
