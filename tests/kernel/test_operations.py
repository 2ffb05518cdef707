"""The procedures of docs/operations.md, followed on temporary copies and real databases.

* Adding a unit (承办单位), a category, a matter (事项) and a responsibility rule (权责清单): append rows to
  the catalogue CSVs, ``callcenter seed`` (twice: re-seeding is idempotent), ``callcenter user add`` for
  the unit's handler, then a case can be dispatched to the new unit, routing resolves the new matter
  to it, and a suggester trained on the edited catalogue proposes it — on SQLite and PostgreSQL.
* Deactivating a user locks them out at once; a new signing key refuses old tokens; a new AMI secret is
  rendered into ``manager.conf``.
* Backup → restore keeps cases and their history: SQLite with the backup API one-liner of the guide,
  PostgreSQL with ``pg_dump`` / ``pg_restore``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from callcenter.db import migrate
from callcenter.db.models import Case, CaseEvent, Matter, MatterCategory, ResponsibilityRule, Unit, User
from callcenter.db.session import get_engine, get_sessionmaker, session_scope
from callcenter.domain.workflow import Actor, Role
from callcenter.services.cases import NewCase, create_case
from tests.kernel.conftest import CATALOGUE

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "operations.md"

#: The rows the guide's example adds (docs/operations.md, "Adding a unit, a matter or a rule").
NEW_UNIT = "B110101-YL,东城区园林绿化局,district_bureau,,110101,园林,010-00000000"
NEW_CATEGORY = "04,园林绿化设施"
NEW_MATTER = (
    "0400099,04,树木倒伏,树木倒伏、断枝影响通行或安全,树倒了|大树倒伏|断枝,"
    "小区门口的大树被风刮倒了|路边大树倒了压着车|树枝断了挂在电线上|台风把行道树刮倒了,"
    "industry,园林,2,3,local"
)
NEW_RULE = "0400099,110101,B110101-YL,industry,行业"

#: The guide's way to switch off a login (there is no CLI for it): SQL on the database.
DEACTIVATE_USER = "UPDATE users SET active = FALSE WHERE username = 'agent2';"

#: The SQLite backup one-liner of the guide (online backup API; safe while services write).
SQLITE_BACKUP = (
    "import sqlite3,sys; d=sqlite3.connect(sys.argv[2]); sqlite3.connect(sys.argv[1]).backup(d); d.close()"
)


#: The guide's SQLite restore (services stopped): drop the old write-ahead log, put the backup in place.
SQLITE_RESTORE = (
    'rm -f var/callcenter.sqlite3-wal var/callcenter.sqlite3-shm && cp "$BACKUP" var/callcenter.sqlite3'
)


def cc(*args: str, db: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"CALLCENTER_MODE": "test", "CALLCENTER_DATABASE_URL": db}
    return subprocess.run(
        [sys.executable, "-m", "callcenter.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _append(path: Path, line: str) -> None:
    with path.open("a", encoding="utf-8") as fh:
        fh.write(line + "\n")


@pytest.fixture
def edited_catalogue(tmp_path: Path) -> Path:
    """A copy of the test catalogue with the guide's new unit, category, matter and rule appended."""
    data = tmp_path / "catalogue"
    shutil.copytree(CATALOGUE, data)
    _append(data / "units.csv", NEW_UNIT)
    _append(data / "categories.csv", NEW_CATEGORY)
    _append(data / "matters.csv", NEW_MATTER)
    _append(data / "responsibility_rules.csv", NEW_RULE)
    return data


def test_guide_shows_the_tested_rows_and_commands() -> None:
    guide = GUIDE.read_text(encoding="utf-8")
    for line in (
        NEW_UNIT,
        NEW_CATEGORY,
        NEW_MATTER,
        NEW_RULE,
        SQLITE_BACKUP,
        DEACTIVATE_USER,
        SQLITE_RESTORE,
    ):
        assert line in guide, line
    for command in (
        "callcenter seed",
        "callcenter train",
        "callcenter user add yl1 --role unit_handler --unit B110101-YL",
        "pg_dump --format=custom --file=",
        "pg_restore --no-owner --dbname=",
    ):
        assert command in guide


def test_add_unit_matter_and_rule(db_url: str, edited_catalogue: Path) -> None:
    r = cc("seed", "--data-dir", str(CATALOGUE), db=db_url)  # the center as it was
    assert r.returncode == 0, r.stderr
    before = r.stderr
    for _ in range(2):  # re-seeding the edited catalogue is idempotent
        r = cc("seed", "--data-dir", str(edited_catalogue), db=db_url)
        assert r.returncode == 0, r.stderr
        assert "7 units, 3 categories, 4 matters, 5 responsibility rules" in " ".join(r.stderr.split())
    assert before != r.stderr
    r = cc(
        "user", "add", "yl1", "--role", "unit_handler", "--unit", "B110101-YL", "--password", "garden-pass-1",
        db=db_url,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr

    with session_scope(db_url) as s:
        assert s.scalar(select(func.count()).select_from(Unit)) == 7
        unit = s.scalar(select(Unit).where(Unit.code == "B110101-YL"))
        assert unit is not None and unit.name == "东城区园林绿化局" and unit.kind == "district_bureau"
        matter = s.get(Matter, "0400099")
        assert matter is not None and matter.name == "树木倒伏" and matter.handle_days == 3.0
        assert s.get(MatterCategory, "04") is not None
        rules = s.scalars(select(ResponsibilityRule).where(ResponsibilityRule.matter_code == "0400099")).all()
        assert [(x.area_code, x.unit_code) for x in rules] == [("110101", "B110101-YL")]
        handler = s.scalar(select(User).where(User.username == "yl1"))
        assert handler is not None and handler.unit_code == "B110101-YL"
        case = create_case(
            s,
            NewCase(
                description="路边大树倒了压着车",
                matter_code="0400099",
                district_code="110101",
                dispatch_unit_code="B110101-YL",
            ),
            Actor(Role.AGENT, user_id=1),
        )
        number = case.number
    with session_scope(db_url) as s:
        stored = s.scalar(select(Case).where(Case.number == number))
        assert stored is not None and stored.status == "dispatched"
        assert stored.unit_code == "B110101-YL" and stored.matter_code == "0400099"


def test_routing_and_suggester_use_the_new_matter(edited_catalogue: Path, tmp_path: Path) -> None:
    from callcenter.catalogue import load_catalogue
    from callcenter.plugins.classifier.routing import resolve_unit
    from callcenter.plugins.classifier.suggester import Suggester
    from callcenter.plugins.classifier.training import train

    catalogue = load_catalogue(edited_catalogue)
    choice = resolve_unit(catalogue, "0400099", {"district_code": "110101"})
    assert choice.unit_code == "B110101-YL"

    models = tmp_path / "models"
    info = train(
        models,
        progress=False,
        per_matter={"train": 12, "calib": 2, "test": 2},
        data_dir=edited_catalogue,
        seed=3,
    )
    assert info.data_hash == catalogue.data_hash
    suggester = Suggester.load(models, catalogue=catalogue)
    result = suggester.suggest("东城区东华门街道这边路边的大树倒了压着车了").to_dict()
    assert result["matters"][0]["code"] == "0400099"
    assert result["unit"]["code"] == "B110101-YL"


def test_deactivated_user_is_locked_out_at_once(seeded_url: str, redis_url: str) -> None:
    from tests.kernel.conftest import PASSWORD, make_client

    with make_client(seeded_url, redis_url) as client:
        r = client.post("/api/auth/token", data={"username": "agent2", "password": PASSWORD})
        assert r.status_code == 200, r.text
        headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
        assert client.get("/api/cases", headers=headers).status_code == 200
        with session_scope(seeded_url) as s:
            s.execute(text(DEACTIVATE_USER))
        assert client.get("/api/cases", headers=headers).status_code == 401  # the token it holds is refused
        r = client.post("/api/auth/token", data={"username": "agent2", "password": PASSWORD})
        assert r.status_code == 401
        r = client.post("/api/auth/token", data={"username": "agent1", "password": PASSWORD})
        assert r.status_code == 200


def test_rotated_signing_key_logs_everyone_out(
    seeded_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from callcenter.config import get_settings
    from tests.kernel.conftest import PASSWORD, make_client

    def token(client: TestClient) -> dict[str, str]:
        r = client.post("/api/auth/token", data={"username": "agent1", "password": PASSWORD})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    monkeypatch.setenv("CALLCENTER_SECRET_KEY", "the-old-signing-key-of-the-center-2026")
    get_settings.cache_clear()
    with make_client(seeded_url, redis_url) as client:
        old = token(client)
        assert client.get("/api/cases", headers=old).status_code == 200
    # the API restarted with a new key
    monkeypatch.setenv("CALLCENTER_SECRET_KEY", "the-new-signing-key-of-the-center-2026")
    get_settings.cache_clear()
    with make_client(seeded_url, redis_url) as client:
        assert client.get("/api/cases", headers=old).status_code == 401
        assert client.get("/api/cases", headers=token(client)).status_code == 200


def test_new_ami_secret_is_rendered_into_manager_conf(tmp_path: Path) -> None:
    env = os.environ | {"CALLCENTER_MODE": "test", "CALLCENTER_AMI__SECRET": "rotated-ami-secret-2026"}
    r = subprocess.run(
        [sys.executable, "-m", "callcenter.cli", "asterisk", "render", "--dest", str(tmp_path / "out")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    manager = (tmp_path / "out" / "etc" / "asterisk" / "manager.conf").read_text(encoding="utf-8")
    assert "secret = rotated-ami-secret-2026" in manager


def _cases_snapshot(url: str) -> list[tuple[str, str, int]]:
    with session_scope(url) as s:
        rows = s.execute(
            select(Case.number, Case.status, func.count(CaseEvent.id))
            .join(CaseEvent, CaseEvent.case_id == Case.id)
            .group_by(Case.number, Case.status)
            .order_by(Case.number)
        ).all()
    return [(str(n), str(st), int(c)) for n, st, c in rows]


def _make_cases(url: str) -> None:
    with session_scope(url) as s:
        for i, unit in enumerate(("S110101001", "S110101002", None)):
            create_case(
                s,
                NewCase(
                    description=f"楼下饭馆油烟太大 第{i}次",
                    matter_code="0601001",
                    district_code="110101",
                    dispatch_unit_code=unit,
                    register=unit is None,
                ),
                Actor(Role.AGENT, user_id=1),
            )


def _dispose(url: str) -> None:
    get_engine(url).dispose()
    get_engine.cache_clear()
    get_sessionmaker.cache_clear()


def test_sqlite_backup_and_restore(seeded_sqlite: str, tmp_path: Path) -> None:
    _make_cases(seeded_sqlite)
    before = _cases_snapshot(seeded_sqlite)
    assert len(before) == 3
    live = make_url(seeded_sqlite).database
    assert live is not None
    backup = tmp_path / "backup.sqlite3"
    with session_scope(seeded_sqlite) as writer:  # a service holding the database open does not matter
        writer.execute(select(func.count()).select_from(Case))
        r = subprocess.run(
            [sys.executable, "-c", SQLITE_BACKUP, live, str(backup)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert r.returncode == 0, r.stderr

    revision = migrate.current(seeded_sqlite)
    # Later work, then a crash: the services die and leave a write-ahead log next to the file.
    _make_cases(seeded_sqlite)
    assert len(_cases_snapshot(seeded_sqlite)) == 6
    wal, shm = Path(live + "-wal"), Path(live + "-shm")
    assert wal.exists()  # WAL mode, connections still open
    stale = tmp_path / "stale"
    stale.mkdir()
    shutil.copy(wal, stale / "wal")
    shutil.copy(shm, stale / "shm")
    _dispose(seeded_sqlite)
    shutil.copy(stale / "wal", wal)
    shutil.copy(stale / "shm", shm)

    # The guide's restore, in place, with the services stopped.
    r = subprocess.run(
        ["sh", "-c", SQLITE_RESTORE.replace("var/callcenter.sqlite3", live)],
        env=os.environ | {"BACKUP": str(backup)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    try:
        assert _cases_snapshot(seeded_sqlite) == before
        assert migrate.current(seeded_sqlite) == revision
        r = cc("seed", "--data-dir", str(CATALOGUE), db=seeded_sqlite)  # a working database again
        assert r.returncode == 0, r.stderr
        _make_cases(seeded_sqlite)
        assert len(_cases_snapshot(seeded_sqlite)) == 6
    finally:
        _dispose(seeded_sqlite)


@pytest.mark.skipif(
    shutil.which("pg_dump") is None or shutil.which("pg_restore") is None, reason="no pg_dump"
)
def test_postgresql_dump_and_restore(pg_url: str, tmp_path: Path) -> None:
    from tests.kernel.conftest import seed_test_data

    seed_test_data(pg_url)
    _make_cases(pg_url)
    before = _cases_snapshot(pg_url)
    dump = tmp_path / "callcenter.dump"
    r = subprocess.run(
        ["pg_dump", "--format=custom", f"--file={dump}", pg_url], capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, r.stderr

    from tests.conftest import PG_ADMIN_URL

    admin = create_engine(
        PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    name = f"cc_restore_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    restored = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        r = subprocess.run(
            ["pg_restore", "--no-owner", f"--dbname={restored}", str(dump)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert r.returncode == 0, r.stderr
        assert _cases_snapshot(restored) == before
        assert migrate.current(restored) == migrate.current(pg_url)
        _make_cases(restored)  # sequences and the day counter came back too: new cases get fresh keys
        assert len(_cases_snapshot(restored)) == len(before) + 3
    finally:
        _dispose(restored)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
