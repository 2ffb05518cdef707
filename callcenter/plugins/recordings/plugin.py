"""Manifest of the recordings plugin (通话录音): the collect / retention loop, the playback routes and
the case-detail player served at ``/recordings/``."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from callcenter.registry import Loop, Plugin

if TYPE_CHECKING:
    from fastapi import APIRouter, FastAPI

    from callcenter.config import Settings

STATIC_DIR = Path(__file__).resolve().parent / "static"


def _routers(_: Settings) -> Iterable[APIRouter]:
    from callcenter.plugins.recordings.routes import router

    return (router,)


def _mount(app: FastAPI, _: Settings) -> None:
    from fastapi.staticfiles import StaticFiles

    app.mount("/recordings", StaticFiles(directory=STATIC_DIR), name="recordings")


def _loop(settings: Settings) -> Loop | None:
    from callcenter.plugins.recordings.loop import recordings_loop

    loop: Loop | None = recordings_loop(settings)
    return loop


plugin = Plugin(
    name="recordings",
    summary="call recordings: collected after hangup, retention, playback in the case detail (audited)",
    routers=_routers,
    mount=_mount,
    loops={"recordings": _loop},
)
