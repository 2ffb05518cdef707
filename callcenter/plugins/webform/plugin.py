"""Manifest of the webform plugin (网站填报 + Open311 GeoReport v2): the public form at ``/report``,
``/api/public/cases`` (file, look up with number + code) and ``/open311/v2/``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from callcenter.registry import Plugin

if TYPE_CHECKING:
    from fastapi import APIRouter

    from callcenter.config import Settings


def _routers(_: Settings) -> Iterable[APIRouter]:
    from callcenter.plugins.webform.routes import router

    return (router,)


plugin = Plugin(
    name="webform",
    summary="public web form (网站填报) and Open311 GeoReport v2 for mini-programs and third-party apps",
    routers=_routers,
)
