"""One flow (两网融合): cases from the phone, the web form, Open311 and the city platform land in the
same workflow and show their source; the wallboard counts today's cases per source and the KPI
report breaks the indicators down by source; with the real suggester (a trained model over the real
catalogue) a web case gets the proposed matter and place exactly as a call would."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from callcenter.api.app import create_app
from callcenter.config import IntakeSettings, Settings, get_settings
from callcenter.db.models import Case, Suggestion, User
from callcenter.db.session import session_scope
from callcenter.plugins.citydispatch.simulator import Upstream
from callcenter.plugins.console.wallboard import Wallboard
from callcenter.security import hash_password
from callcenter.seed import seed_all
from callcenter.services import intake
from tests.kernel.conftest import Login
from tests.plugins.webform.conftest import API_KEY

PARTNER, KEY = "bj12345", "partner-shared-key-2f9c81d4e7"


@pytest.fixture
def flow_client(seeded_url: str, redis_url: str, redis_client: object) -> Iterator[TestClient]:
    settings = Settings(
        mode="test",
        database_url=seeded_url,
        redis_url=redis_url,
        intake=IntakeSettings.model_validate(
            {"open311_api_keys": {"wechat-mini": API_KEY}, "city_partners": {PARTNER: {"key": KEY}}}
        ),
    )
    with TestClient(create_app(settings, start_relay=False)) as c:
        yield c


def test_every_source_in_one_workflow_and_in_the_kpis(flow_client: TestClient, auth: Login) -> None:
    c = flow_client
    agent, sup = auth("agent1"), auth("super1")
    numbers = {
        "phone": c.post(
            "/api/cases", json={"description": "家里停水了", "caller_phone": "13800000001"}, headers=agent
        ).json()["number"],
        "leader": c.post(
            "/api/cases", json={"description": "领导交办：多福巷路灯", "channel": "leader"}, headers=agent
        ).json()["number"],
        "web": c.post("/api/public/cases", json={"description": "多福巷餐馆油烟扰民"}).json()["number"],
        "open311": c.post(
            "/open311/v2/requests.json",
            data={
                "api_key": API_KEY,
                "service_code": "0601002",
                "address_string": "多福巷 5 号",
                "description": "有人私装地锁",
            },
        ).json()[0]["service_request_id"],
        "city_dispatch": Upstream("http://testserver", PARTNER, KEY, client=c)
        .send_order({"order_id": "BJ-1", "description": "市级转办：景山街道路面积水"})
        .json()["case_number"],
    }
    for source, number in numbers.items():
        case = c.get(f"/api/cases/{number}", headers=agent).json()
        assert case["channel"] == source and case["status"] == "received"
        # the same workflow for all: an agent registers and dispatches any of them
        for action, extra in (
            ("register", {"matter_code": "0601001"}),
            ("dispatch", {"unit_code": "S110101001"}),
        ):
            r = c.post(f"/api/cases/{number}/transitions", json={"action": action, **extra}, headers=agent)
            assert r.status_code == 200, (source, r.text)
    report = c.get("/api/console/kpi", params={"days": 1}, headers=sup).json()
    by = {row["source"]: row for row in report["by_source"]}
    assert set(by) == set(numbers) and all(row["total"] == 1 for row in by.values())
    assert by["city_dispatch"]["name"] == "市级派单" and by["web"]["share"] == 0.2
    assert by["web"]["response"]["denominator"] == 0  # dispatched, not yet due: pending


def test_wallboard_counts_todays_cases_per_source() -> None:
    board = Wallboard(UTC)
    now = datetime.now(UTC).isoformat()
    for channel in ("phone", "web", "web", "grid", None):
        board.apply("case.create", {"number": "x", "channel": channel}, now)
    board.apply("case.dispatch", {"number": "x", "channel": "web"}, now)  # not a new case
    assert board.snapshot()["cases_by_source"] == {"phone": 2, "web": 2, "grid": 1}
    board.apply("case.create", {"channel": "web"}, "2999-01-01T00:00:00+00:00")  # the next day
    assert board.snapshot()["cases_by_source"] == {"web": 1}


@pytest.mark.slow
def test_web_case_gets_the_real_suggestion(
    sqlite_url: str, redis_url: str, trained_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "classifier").mkdir()
    (tmp_path / "classifier" / "models").symlink_to(trained_model_dir)
    monkeypatch.setenv("CALLCENTER_CLASSIFIER__MODEL_DIR", str(tmp_path / "classifier"))
    get_settings.cache_clear()
    with session_scope(sqlite_url) as s:
        seed_all(s)  # the real catalogue the model was trained on
        s.add(User(username="agent1", password_hash=hash_password("correct-horse-1"), role="agent"))
    settings = Settings(mode="test", database_url=sqlite_url, redis_url=redis_url)
    intake._suggesters.clear()
    with TestClient(create_app(settings, start_relay=False)) as c:
        r = c.post(
            "/api/public/cases", json={"description": "东城区东华门街道楼下饭馆油烟太大，熏得家里没法开窗"}
        )
        assert r.status_code == 201, r.text
    with session_scope(sqlite_url) as s:
        case = s.scalar(select(Case))
        sug = s.scalar(select(Suggestion))
        assert case is not None and sug is not None and sug.case_id == case.id
        assert sug.matters and case.matter_code == sug.matters[0]["code"]  # filled from the suggestion
        assert "油烟" in sug.matters[0]["name"]
        assert case.street_code == "110101001"  # 东华门街道, from the place the suggester found
        assert case.status == "received"  # intake.auto_dispatch is off: an agent registers it
    intake._suggesters.clear()
