"""The demo's text-channel complaints go in through the real API (uvicorn, SQLite, Redis) with the
suggester's matter, place and unit, and running the demo again adds nothing twice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from callcenter.db.models import Case
from callcenter.db.session import session_scope
from callcenter.plugins.demo.texts import DEMO_TEXTS, seed_texts
from tests.kernel.conftest import PASSWORD
from tests.plugins.console.conftest import LiveServer

pytestmark = [pytest.mark.redis, pytest.mark.slow]

CATALOGUE = Path(__file__).resolve().parents[2] / "kernel" / "fixtures" / "catalogue"


class _Holder:
    def __init__(self, suggester: Any) -> None:
        self.suggester = suggester

    def get(self) -> Any:
        return self.suggester


def test_demo_texts_become_suggested_cases_once(live_server: LiveServer, tmp_path: Path) -> None:
    from callcenter.catalogue import load_catalogue
    from callcenter.plugins.classifier.http import get_holder
    from callcenter.plugins.classifier.suggester import Suggester
    from callcenter.plugins.classifier.training import train

    train(
        tmp_path, progress=False, per_matter={"train": 24, "calib": 3, "test": 4}, seed=7, data_dir=CATALOGUE
    )
    suggester = Suggester.load(tmp_path, catalogue=load_catalogue(CATALOGUE), threshold=0.85)
    live_server.app.dependency_overrides[get_holder] = lambda: _Holder(suggester)
    try:
        first = seed_texts(live_server.url, "agent1", PASSWORD)
        assert not first.failed and len(first.created) == len(DEMO_TEXTS)
        assert first.suggested >= 1
        again = seed_texts(live_server.url, "agent1", PASSWORD)
        assert again.created == [] and again.replayed == len(DEMO_TEXTS)
    finally:
        live_server.app.dependency_overrides.pop(get_holder, None)
    with session_scope(live_server.database_url) as s:
        cases = {c.description: c for c in s.scalars(select(Case))}
    assert len(cases) == len(DEMO_TEXTS)
    fumes = next(c for d, c in cases.items() if "烧烤" in d)
    assert fumes.channel == "wechat" and fumes.matter_code == "0601001"  # 餐饮油烟 in the test catalogue
    water = next(c for d, c in cases.items() if "停水" in d)
    assert water.matter_code == "1101001"
