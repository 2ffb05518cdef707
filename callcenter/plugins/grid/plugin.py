"""Manifest of the grid plugin (网格化管理): grids and grid workers (CSV import), the grid worker app
at ``/grid``, reports with photos, on-the-spot closures (自处置) and check tasks (任务核查)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from callcenter.registry import Plugin

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter, FastAPI

    from callcenter.config import Settings


def _routers(_: Settings) -> Iterable[APIRouter]:
    from callcenter.plugins.grid.routes import router

    return (router,)


def _cli(app: typer.Typer) -> None:
    from callcenter.plugins.grid.cli import register

    register(app)


def _mount(app: FastAPI, settings: Settings) -> None:
    """Reports and check tasks carry photos: a larger body limit for those two routes only."""
    limit = settings.intake.photo_max_bytes * settings.intake.photo_max_count + 256 * 1024
    limits = getattr(app, "guard_path_limits", None)
    if limits is not None:
        limits["/api/grid/reports"] = limit
        limits["/api/grid/tasks/"] = limit


plugin = Plugin(
    name="grid",
    summary="grids and grid workers (网格员): CSV import, phone app with photos, 自处置, 任务核查",
    cli=_cli,
    routers=_routers,
    mount=_mount,
)
