"""Manifest of the citydispatch plugin (市级派单): the signed inbound API for orders pushed by an
upstream 12345 platform, and the ``citydispatch`` worker loop that pushes status changes back."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from callcenter.registry import Loop, Plugin

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter

    from callcenter.config import Settings


def _routers(_: Settings) -> Iterable[APIRouter]:
    from callcenter.plugins.citydispatch.routes import router, supervisor_router

    return (router, supervisor_router)


def _loop(settings: Settings) -> Loop | None:
    from callcenter.plugins.citydispatch.loops import pushback_loop

    return pushback_loop(settings)


def _cli(app: typer.Typer) -> None:
    from callcenter.plugins.citydispatch.cli import register

    register(app)


plugin = Plugin(
    name="citydispatch",
    summary="orders pushed down by the city 12345 platform (市级派单): signed inbound API, push-backs",
    cli=_cli,
    routers=_routers,
    loops={"citydispatch": _loop},
)
