"""The ``callcenter`` command against a real SQLite file: db upgrade, seed, user add, sweep."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from callcenter.db.models import Matter, Unit, User
from callcenter.db.session import session_scope
from tests.kernel.conftest import CATALOGUE

REAL_CATALOGUE = Path(__file__).resolve().parents[2] / "callcenter" / "data" / "catalogue"


def cc(
    *args: str, db: str, mode: str = "test", input_: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"CALLCENTER_MODE": mode, "CALLCENTER_DATABASE_URL": db}
    return subprocess.run(
        [sys.executable, "-m", "callcenter.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        input=input_,
        timeout=300,
    )


def test_upgrade_seed_and_user_add(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    r = cc("db", "upgrade", db=db)
    assert r.returncode == 0, r.stderr
    assert cc("db", "current", db=db).stdout.strip() == "0010"
    r = cc("seed", "--data-dir", str(CATALOGUE), db=db)
    assert r.returncode == 0, r.stderr
    assert "3 matters" in r.stderr and "4 responsibility rules" in r.stderr
    r = cc("seed", "--data-dir", str(CATALOGUE), db=db)  # idempotent
    assert r.returncode == 0, r.stderr
    r = cc(
        "user",
        "add",
        "wang",
        "--role",
        "unit_handler",
        "--unit",
        "S110101001",
        "--password",
        "secret-pass-1",
        db=db,
    )
    assert r.returncode == 0, r.stderr
    r = cc("user", "add", "wang", "--role", "agent", "--password", "secret-pass-1", db=db)
    assert r.returncode == 1 and "exists" in r.stderr
    r = cc("user", "add", "li", "--role", "unit_handler", "--password", "secret-pass-1", db=db)
    assert r.returncode == 1 and "--unit" in r.stderr
    r = cc("user", "add", "li", "--role", "pilot", "--password", "secret-pass-1", db=db)
    assert r.returncode == 1 and "role" in r.stderr
    with session_scope(db) as s:
        assert s.scalar(select(func.count()).select_from(Matter)) == 3
        user = s.scalar(select(User).where(User.username == "wang"))
        assert user is not None and user.role == "unit_handler" and user.password_hash.startswith("$argon2")
    r = cc("sweep-overdue", db=db)
    assert r.returncode == 0 and "0 overdue" in r.stderr


def test_production_mode_refuses_default_secrets(tmp_path: Path) -> None:
    r = cc("db", "upgrade", db=f"sqlite:///{tmp_path / 'p.sqlite3'}", mode="production")
    assert r.returncode == 2 and "refusing to start" in r.stderr


def test_demo_users_refused_in_production(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'p.sqlite3'}"
    env_ok = cc("db", "upgrade", db=db)
    assert env_ok.returncode == 0
    env = os.environ | {
        "CALLCENTER_MODE": "production",
        "CALLCENTER_DATABASE_URL": db,
        "CALLCENTER_SECRET_KEY": "a-real-secret-of-length",
        "CALLCENTER_AMI__SECRET": "another-real-secret",
    }
    r = subprocess.run(
        [sys.executable, "-m", "callcenter.cli", "seed", "--data-dir", str(CATALOGUE), "--demo-users"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 2 and "refused in production" in r.stderr


def test_malformed_data_file_names_file_and_line(tmp_path: Path) -> None:
    import shutil

    data = tmp_path / "data"
    shutil.copytree(CATALOGUE, data)
    with (data / "matters.csv").open("a", encoding="utf-8") as fh:
        fh.write("0601009,99,坏行,,,,locality,,2,5,test\n")
    db = f"sqlite:///{tmp_path / 'bad.sqlite3'}"
    assert cc("db", "upgrade", db=db).returncode == 0
    r = cc("seed", "--data-dir", str(data), db=db)
    assert r.returncode == 1 and "matters.csv:5" in r.stderr and "unknown category" in r.stderr


@pytest.mark.skipif(not (REAL_CATALOGUE / "matters.csv").exists(), reason="catalogue data not built yet")
def test_seed_real_catalogue(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'real.sqlite3'}"
    assert cc("db", "upgrade", db=db).returncode == 0
    r = cc("seed", "--demo-users", db=db, mode="demo")
    assert r.returncode == 0, r.stderr
    with session_scope(db) as s:
        assert (s.scalar(select(func.count()).select_from(Matter)) or 0) >= 700
        assert (
            s.scalar(select(func.count()).select_from(Unit).where(Unit.kind == "street_office")) or 0
        ) > 20
        assert s.scalar(select(User).where(User.username == "street1")) is not None
        from callcenter.db.models import Area

        handled = s.scalar(select(func.count()).select_from(Area).where(Area.handled_by.is_not(None)))
        assert handled and handled >= 1  # e.g. 经济技术开发区 handled by 亦庄地区


def test_migrations_match_the_models(tmp_path: Path) -> None:
    """Autogenerate against a migrated database finds nothing to do: models and migrations agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from callcenter.db import migrate
    from callcenter.db.base import Base
    from callcenter.db.session import get_engine

    url = f"sqlite:///{tmp_path / 'm.sqlite3'}"
    migrate.upgrade(url)
    with get_engine(url).connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    migrate.downgrade(url, "0001")
    assert migrate.current(url) == "0001"


def test_catalogue_build_command(tmp_path: Path) -> None:
    """``callcenter catalogue-build`` is a kernel command: it rebuilds the committed CSVs byte for byte."""
    from callcenter.catalogue import DATA_FILES
    from callcenter.catalogue.build import SHARED_DIR

    db = f"sqlite:///{tmp_path / 'unused.sqlite3'}"
    r = cc("catalogue-build", "--out-dir", str(tmp_path / "x"), "--shared-dir", str(tmp_path / "none"), db=db)
    assert r.returncode == 2 and "no reference data" in r.stderr
    if not SHARED_DIR.is_dir():
        pytest.skip("../shared reference data not present")
    r = cc("catalogue-build", "--out-dir", str(tmp_path / "built"), db=db)
    assert r.returncode == 0, r.stderr
    assert '"matters": 769' in r.stdout
    for name in DATA_FILES:
        assert (tmp_path / "built" / name).read_bytes() == (REAL_CATALOGUE / name).read_bytes(), name
