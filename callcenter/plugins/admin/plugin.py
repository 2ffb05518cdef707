"""Manifest of the admin plugin (系统管理): ``/api/admin/...`` and the admin page at ``/admin/``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from callcenter.registry import Plugin

if TYPE_CHECKING:
    from fastapi import APIRouter, FastAPI

    from callcenter.config import Settings


def _routers(_: Settings) -> Iterable[APIRouter]:
    from callcenter.plugins.admin.routes import router

    return (router,)


def _mount(app: FastAPI, _: Settings) -> None:
    from callcenter.plugins.admin.routes import mount

    mount(app)


plugin = Plugin(
    name="admin",
    summary="admin screen: users, units, matters, responsibility rules and time limits, with an audit trail",
    routers=_routers,
    mount=_mount,
)
