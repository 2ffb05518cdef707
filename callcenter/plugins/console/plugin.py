"""Manifest of the console plugin (坐席工作台 / 班长监控): pages, live events, wallboard and KPIs."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from callcenter.registry import Plugin

if TYPE_CHECKING:
    from fastapi import APIRouter, FastAPI

    from callcenter.config import Settings


def _routers(_: Settings) -> Iterable[APIRouter]:
    from callcenter.plugins.console.routes import routers

    return routers()


def _mount(app: FastAPI, _: Settings) -> None:
    from callcenter.plugins.console.routes.pages import mount

    mount(app)


plugin = Plugin(
    name="console",
    summary="agent, unit-handler and supervisor web console with Server-Sent Events",
    routers=_routers,
    mount=_mount,
)
