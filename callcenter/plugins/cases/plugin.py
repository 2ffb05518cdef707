"""Manifest of the cases plugin (工单): the case, call and catalogue API, 督办 sweep."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from callcenter.registry import Loop, Plugin

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter

    from callcenter.config import Settings


def _routers(_: Settings) -> Iterable[APIRouter]:
    from callcenter.plugins.cases.routes import calls, cases, catalogue

    return (cases.router, catalogue.router, calls.router)


def _cli(app: typer.Typer) -> None:
    from callcenter.plugins.cases.cli import register

    register(app)


def _sweep(settings: Settings) -> Loop:
    from callcenter.plugins.cases.loops import sweep_loop

    return sweep_loop(settings)


plugin = Plugin(
    name="cases",
    summary="closed-loop cases: API for cases, calls and the catalogue; 督办 sweep of overdue cases",
    cli=_cli,
    routers=_routers,
    loops={"sweep": _sweep},
)
