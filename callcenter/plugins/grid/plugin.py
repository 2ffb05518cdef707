"""Manifest of the grid plugin (网格化管理): grids and grid workers (CSV import), the grid worker app
at ``/grid``, reports with photos, on-the-spot closures (自处置) and check tasks (任务核查)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from callcenter.registry import Plugin

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter

    from callcenter.config import Settings


def _routers(_: Settings) -> Iterable[APIRouter]:
    from callcenter.plugins.grid.routes import router

    return (router,)


def _cli(app: typer.Typer) -> None:
    from callcenter.plugins.grid.cli import register

    register(app)


plugin = Plugin(
    name="grid",
    summary="grids and grid workers (网格员): CSV import, phone app with photos, 自处置, 任务核查",
    cli=_cli,
    routers=_routers,
)
