"""Grid tests: a seeded database with two grids in 多福巷社区, a grid worker and a grid leader, the app
with uploads under the test's own folder, and real photos made with Pillow (one with EXIF GPS)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from callcenter.api.app import create_app
from callcenter.config import IntakeSettings, Settings
from callcenter.db.session import session_scope
from callcenter.plugins.grid import services as svc
from tests.kernel.conftest import PASSWORD, auth, seeded_sqlite, seeded_url  # noqa: F401

GRIDS_CSV = """code,name,community_code,keywords
G001,多福巷第一网格,110101001001,多福巷|福祥里
G002,多福巷第二网格,110101001001,银闸胡同|沙滩北街
"""
MEMBERS_CSV = """username,display_name,grid_code,duty
grid1,王网格,G001,worker
grid2,李网格,G002,worker
leader1,赵网格长,G001,leader
"""
BEIJING = (39.9151234, 116.4043210)


def jpeg(
    width: int = 800, height: int = 600, *, gps: tuple[float, float] | None = None, color: str = "red"
) -> bytes:
    """A real JPEG with camera EXIF (make, model, owner) and optionally a GPS position."""
    img = Image.new("RGB", (width, height), color)
    exif = Image.Exif()
    exif[0x010F] = "TestCam"  # Make
    exif[0x0110] = "Model X"  # Model
    exif[0xA430] = "Owner Name"  # CameraOwnerName
    if gps is not None:

        def dms(v: float) -> tuple[float, float, float]:
            d = int(v)
            m = int((v - d) * 60)
            s = round(((v - d) * 60 - m) * 60, 4)
            return (float(d), float(m), s)

        exif[0x8825] = {1: "N", 2: dms(gps[0]), 3: "E", 4: dms(gps[1])}
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif, quality=90)
    return out.getvalue()


def big_jpeg(target: int) -> bytes:
    """A JPEG of about ``target`` bytes (noise does not compress)."""
    import os

    side = int((target / 2.0) ** 0.5) + 1
    while True:
        img = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
        out = io.BytesIO()
        img.save(out, "JPEG", quality=95)
        data = out.getvalue()
        if len(data) >= target:
            return data
        side = int(side * (target / len(data)) ** 0.5) + 8


def grid_settings(url: str, redis_url: str, uploads: Path, **intake: object) -> Settings:
    return Settings(
        mode="test",
        database_url=url,
        redis_url=redis_url,
        intake=IntakeSettings.model_validate({"uploads_dir": str(uploads)} | intake),
    )


@pytest.fixture
def gridded_url(seeded_url: str) -> str:  # noqa: F811
    with session_scope(seeded_url) as s:
        svc.import_grids(s, GRIDS_CSV)
        svc.import_members(s, MEMBERS_CSV, PASSWORD)
    return seeded_url


@pytest.fixture
def uploads(tmp_path: Path) -> Path:
    return tmp_path / "uploads"


@pytest.fixture
def client(gridded_url: str, redis_url: str, uploads: Path) -> Iterator[TestClient]:
    with TestClient(create_app(grid_settings(gridded_url, redis_url, uploads), start_relay=False)) as c:
        yield c
