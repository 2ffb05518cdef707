"""Grids and grid workers: CSV import (line numbers on bad lines, nothing half-written), role
grid_worker, place → grid resolution."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from callcenter.db.models import Grid, GridMember, User
from callcenter.db.session import session_scope
from callcenter.plugins.grid import services as svc
from callcenter.plugins.grid.exceptions import BadGridFile
from tests.kernel.conftest import Login


def test_import_made_grids_and_grid_workers(gridded_url: str) -> None:
    with session_scope(gridded_url) as s:
        g = s.get(Grid, "G001")
        assert g is not None and g.street_code == "110101001" and g.district_code == "110101"
        assert g.keywords == ["多福巷", "福祥里"]
        roles = dict(s.execute(select(User.username, User.role).where(User.username.like("%1"))).all())
        assert roles["grid1"] == "grid_worker" and roles["leader1"] == "grid_worker"
        duty = s.scalar(select(GridMember.duty).join(User).where(User.username == "leader1"))
        assert duty == "leader"
        # importing again changes nothing (idempotent)
        svc.import_grids(
            s, "code,name,community_code,keywords\nG001,多福巷第一网格,110101001001,多福巷|福祥里\n"
        )
        assert s.scalar(select(func.count()).select_from(Grid)) == 2


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("code,name\nG9,x\n", "line 1: missing columns community_code"),
        ("code,name,community_code\nG9,第九网格,999\n", "line 2: '999' is not a community"),
        (
            "code,name,community_code\nG9,第九网格,110101001001\nG9,重复,110101001001\n",
            "line 3: grid G9 appears twice",
        ),
        (
            "code,name,community_code\n,无编号,110101001001\n",
            "line 2: code, name and community_code are required",
        ),
    ],
)
def test_bad_grid_lines_name_the_line_and_write_nothing(gridded_url: str, text: str, words: str) -> None:
    with session_scope(gridded_url) as s, pytest.raises(BadGridFile) as err:
        svc.import_grids(s, text)
    assert words in err.value.message
    with session_scope(gridded_url) as s:
        assert s.get(Grid, "G9") is None


def test_bad_member_lines(gridded_url: str) -> None:
    with session_scope(gridded_url) as s:
        with pytest.raises(BadGridFile, match="line 2: unknown grid"):
            svc.import_members(
                s, "username,display_name,grid_code,duty\nx,x,G404,worker\n", "pw-long-enough-1"
            )
        with pytest.raises(BadGridFile, match="line 2: duty must be"):
            svc.import_members(s, "username,display_name,grid_code,duty\nx,x,G001,boss\n", "pw-long-enough-1")
        with pytest.raises(BadGridFile, match="exists with role agent"):
            svc.import_members(
                s, "username,display_name,grid_code,duty\nagent1,x,G001,worker\n", "pw-1234567890"
            )


def test_place_resolves_to_a_grid(gridded_url: str, client: TestClient, auth: Login) -> None:
    with session_scope(gridded_url) as s:
        by_kw = svc.resolve_grid(s, community_code="110101001001", address="东华门街道银闸胡同 12 号")
        assert by_kw is not None and by_kw.grid_code == "G002" and by_kw.how == "keyword"
        assert svc.resolve_grid(s, community_code="110101001001", address="不知道哪里") is None
        assert (
            svc.resolve_grid(s, community_code=None, street_code="110101001", address="福祥里 5 号")
            is not None
        )
        assert svc.resolve_grid(s, community_code=None) is None
    r = client.get(
        "/api/grid/resolve",
        params={"community_code": "110101001001", "address": "多福巷 3 号"},
        headers=auth("agent1"),
    )
    assert r.status_code == 200 and r.json()["grid"]["grid_code"] == "G001"
    assert client.get("/api/grid/resolve", headers=auth("grid1")).status_code == 403


def test_grid_worker_logs_in_and_sees_no_hotline_cases(client: TestClient, auth: Login) -> None:
    worker = auth("grid1")
    me = client.get("/api/grid/me", headers=worker).json()
    assert [g["code"] for g in me["grids"]] == ["G001"] and me["communities"][0]["name"] == "多福巷社区"
    number = client.post(
        "/api/cases", json={"description": "电话诉求", "caller_phone": "13800000000"}, headers=auth("agent1")
    ).json()["number"]
    assert client.get(f"/api/cases/{number}", headers=worker).status_code == 403
    assert client.get("/api/grid/me", headers=auth("agent1")).status_code == 403


def test_figures_want_aware_dates(client: TestClient, auth: Login) -> None:
    r = client.get("/api/grid/figures", params={"start": "2026-12-01T00:00:00"}, headers=auth("super1"))
    assert r.status_code == 422 and "time zone" in r.json()["detail"]
    r = client.get("/api/grid/figures", params={"start": "2026-12-01T00:00:00+08:00"}, headers=auth("super1"))
    assert r.status_code == 200 and r.json() == []
