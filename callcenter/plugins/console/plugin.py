"""Manifest of the console plugin (坐席工作台 / 班长监控): pages, live events, wallboard and KPIs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from callcenter.registry import Plugin

if TYPE_CHECKING:
    from fastapi import FastAPI

    from callcenter.config import Settings


def _mount(app: FastAPI, _: Settings) -> None:
    from callcenter.plugins.console.web import mount

    mount(app)


plugin = Plugin(
    name="console",
    summary="agent, unit-handler and supervisor web console with Server-Sent Events",
    mount=_mount,
)
