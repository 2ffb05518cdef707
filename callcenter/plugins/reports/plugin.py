"""Manifest of the reports plugin (报告): daily / weekly / monthly reports for leaders (PDF + XLSX),
the ``report`` command, the schedule loop of the worker, and the reports API for the console."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from callcenter.registry import Loop, Plugin

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter, FastAPI

    from callcenter.config import Settings


def _cli(app: typer.Typer) -> None:
    from callcenter.plugins.reports.cli import register

    register(app)


def _routers(settings: Settings) -> Iterable[APIRouter]:
    from callcenter.plugins.reports.routes import router

    return (router,)


def _mount(app: FastAPI, _: Settings) -> None:
    from pathlib import Path

    from fastapi.staticfiles import StaticFiles

    static = Path(__file__).parent / "static"
    app.mount("/reports-static", StaticFiles(directory=static), name="reports-static")


def _loop(settings: Settings) -> Loop | None:
    from callcenter.plugins.reports.schedule import reports_loop

    return reports_loop(settings)


plugin = Plugin(
    name="reports",
    summary="reports for leaders: daily, weekly, monthly (PDF, XLSX), on a schedule and on demand",
    cli=_cli,
    routers=_routers,
    mount=_mount,
    loops={"reports": _loop},
)
