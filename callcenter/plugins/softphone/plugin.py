"""Manifest of the softphone plugin (网页软电话): WebRTC endpoints with per-login credentials and the
console's browser phone (JsSIP), served at ``/softphone/``."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from callcenter.registry import Plugin

if TYPE_CHECKING:
    from fastapi import APIRouter, FastAPI

    from callcenter.config import Settings

STATIC_DIR = Path(__file__).resolve().parent / "static"


def _routers(_: Settings) -> Iterable[APIRouter]:
    from callcenter.plugins.softphone.routes import router

    return (router,)


def _mount(app: FastAPI, _: Settings) -> None:
    from fastapi.staticfiles import StaticFiles

    app.mount("/softphone", StaticFiles(directory=STATIC_DIR), name="softphone")


plugin = Plugin(
    name="softphone",
    summary="browser softphone (WebRTC over WSS, per-login credentials) in the agent and supervisor console",
    routers=_routers,
    mount=_mount,
)
