"""Routing follows the database's responsibility list (权责清单), as the admin screen edits it: the real
app over SQLite (seeded with the real catalogue the session model was trained on) and Redis, the admin
API, ``POST /api/suggest``, the suggester of the text channels (the ``SUGGESTER`` port) and
``callcenter seed`` run again as a command."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from callcenter import registry
from callcenter.api.app import create_app
from callcenter.config import Settings, get_settings
from callcenter.db.models import ResponsibilityRule, User
from callcenter.db.session import session_scope
from callcenter.plugins.classifier.dbrules import DatabaseRules, for_database
from callcenter.plugins.classifier.http import get_holder
from callcenter.plugins.classifier.suggester import SuggesterHolder
from callcenter.plugins.classifier.training import ModelInfo
from callcenter.ports import SUGGESTER
from callcenter.security import hash_password
from callcenter.seed import seed_all
from callcenter.services.admin import Who, save_rule
from tests.kernel.test_cli import cc

pytestmark = [pytest.mark.slow, pytest.mark.redis]

PASSWORD = "correct-horse-1"
STALL_TEXT = "大兴区清源街道有人占道经营卖菜"  # 占道经营 (locality) in 清源街道 → S110115003
STALL = ("0900006", "110115003", "locality")


@pytest.fixture
def app_db(sqlite_url: str) -> str:
    with session_scope(sqlite_url) as s:
        seed_all(s)  # the real catalogue
        for name, role in (("boss", "admin"), ("agent1", "agent")):
            s.add(User(username=name, password_hash=hash_password(PASSWORD), role=role, display_name=name))
    return sqlite_url


@pytest.fixture
def client(
    app_db: str, redis_url: str, redis_client: Any, trained: ModelInfo, models_dir: Path
) -> Iterator[TestClient]:
    app = create_app(Settings(mode="test", database_url=app_db, redis_url=redis_url), start_relay=False)
    holder = SuggesterHolder(models_dir, check_interval=3600)
    app.dependency_overrides[get_holder] = lambda: holder
    with TestClient(app) as c:
        yield c


def _login(c: TestClient, user: str) -> dict[str, str]:
    r = c.post("/api/auth/token", data={"username": user, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _suggest(c: TestClient, agent: dict[str, str]) -> dict[str, Any]:
    r = c.post("/api/suggest", json={"text": STALL_TEXT}, headers=agent)
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["matters"][0]["code"] == STALL[0]
    return dict(data)


def _stall_rule(c: TestClient, admin: dict[str, str]) -> dict[str, Any]:
    items = c.get("/api/admin/rules", params={"matter": STALL[0], "area": STALL[1]}, headers=admin).json()[
        "items"
    ]
    return dict(next(r for r in items if r["rule_kind"] == STALL[2]))


def test_admin_edits_route_the_next_suggestion_and_survive_the_seed(
    client: TestClient, app_db: str, models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "classifier").mkdir()
    (tmp_path / "classifier" / "models").symlink_to(models_dir)
    monkeypatch.setenv("CALLCENTER_CLASSIFIER__MODEL_DIR", str(tmp_path / "classifier"))
    get_settings.cache_clear()
    admin, agent = _login(client, "boss"), _login(client, "agent1")
    rules = for_database(app_db)
    before = _suggest(client, agent)
    assert before["unit"] == {"code": "S110115003", "name": "清源街道办事处"}
    assert before["routing"]["rule_kind"] == "locality"
    reads = rules.reads
    _suggest(client, agent)
    assert rules.reads == reads  # nothing changed: the fingerprint matched, the rules were not read again

    # edit: the street's rule now names the district's city-management bureau
    rule = _stall_rule(client, admin)
    assert rule["source"] == "catalogue"
    body = {**{k: rule[k] for k in ("matter_code", "area_code", "rule_kind")}, "unit_code": "110115-CGZF"}
    r = client.put(
        f"/api/admin/rules/{rule['id']}", json={**body, "note": "占道经营改由城管执法局承办"}, headers=admin
    )
    assert r.status_code == 200 and r.json()["source"] == "admin"
    edited = _suggest(client, agent)  # the very next request
    assert edited["unit"] == {"code": "110115-CGZF", "name": "大兴区城市管理综合行政执法局"}
    assert edited["routing"]["reason"] == "占道经营改由城管执法局承办"
    assert rules.reads == reads + 1

    # the suggester of the text channels (pipeline, web form, Open311) routes the same way
    settings = Settings(mode="test", database_url=app_db)
    port = registry.provide(SUGGESTER, settings)
    assert port(STALL_TEXT, None)["unit"]["code"] == "110115-CGZF"

    # delete: routing falls back as it does without the rule (the district's locality rule → center)
    assert client.delete(f"/api/admin/rules/{rule['id']}", headers=admin).status_code == 204
    deleted = _suggest(client, agent)
    assert deleted["unit"]["code"] == "110115-12345"
    assert (deleted["routing"]["rule_kind"], deleted["routing"]["area_code"]) == ("locality", "110115")
    assert deleted["auto_dispatch"] is False  # never auto-dispatched to the 12345 center itself
    assert port(STALL_TEXT, None)["unit"]["code"] == "110115-12345"

    # another process (a second API worker) adds an override: seen by this one at the next request
    with session_scope(app_db) as s:
        save_rule(
            s,
            Who(None),
            matter_code=STALL[0],
            area_code=STALL[1],
            unit_code="110115-ZJW",
            rule_kind="override",
            note="测试覆盖",
        )
    assert _suggest(client, agent)["unit"]["code"] == "110115-ZJW"

    # `callcenter seed` again (every demo start runs it): the deleted rule stays deleted, the added one stays
    seeded = cc("seed", db=app_db)
    assert seeded.returncode == 0, seeded.stderr
    with session_scope(app_db) as s:
        rows = {
            x.rule_kind: (x.unit_code, x.source, x.active)
            for x in s.scalars(
                select(ResponsibilityRule).where(
                    ResponsibilityRule.matter_code == STALL[0], ResponsibilityRule.area_code == STALL[1]
                )
            )
        }
    assert rows == {"locality": ("110115-CGZF", "admin", False), "override": ("110115-ZJW", "admin", True)}
    assert _suggest(client, agent)["unit"]["code"] == "110115-ZJW"
    # an edit of the admin's own rule survives the seed as well
    body = {**body, "rule_kind": "override", "note": ""}
    r = client.put(f"/api/admin/rules/{_override_id(app_db)}", json=body, headers=admin)
    assert r.status_code == 200
    seeded = cc("seed", db=app_db)
    assert seeded.returncode == 0, seeded.stderr
    assert _suggest(client, agent)["unit"]["code"] == "110115-CGZF"  # the edit survived the seed


def _override_id(url: str) -> int:
    with session_scope(url) as s:
        rid = s.scalar(
            select(ResponsibilityRule.id).where(
                ResponsibilityRule.matter_code == STALL[0],
                ResponsibilityRule.area_code == STALL[1],
                ResponsibilityRule.rule_kind == "override",
            )
        )
    assert rid is not None
    return int(rid)


def test_a_database_without_rules_or_out_of_reach_routes_with_the_files(
    sqlite_url: str, tmp_path: Path, suggester: Any
) -> None:
    empty = DatabaseRules(sqlite_url)  # migrated, never seeded: no rule rows at all
    assert empty.routing(suggester.catalogue) is suggester.catalogue
    broken = DatabaseRules(f"sqlite:///{tmp_path / 'never-migrated.sqlite3'}")  # no table: an error
    result = suggester.suggest(STALL_TEXT, routing=broken.routing(suggester.catalogue))
    assert result.unit is not None and result.unit.unit_code == "S110115003"
