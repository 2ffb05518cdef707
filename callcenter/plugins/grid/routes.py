"""Routes of the grid plugin (filled in below)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/grid", tags=["grid"])
