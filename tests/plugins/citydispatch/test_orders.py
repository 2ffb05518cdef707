"""市级派单 inbound: signed, timestamped, replay-proof, idempotent on the upstream order id, with the
upstream deadline kept — on SQLite and PostgreSQL, through the real app and the simulated upstream."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from callcenter.db.models import Case, CityOrder
from callcenter.db.session import session_scope
from callcenter.plugins.citydispatch import signing
from tests.kernel.conftest import Login
from tests.plugins.citydispatch.conftest import KEY, PARTNER, City

ORDER = {
    "order_id": "BJ-20261202-000123",
    "title": "餐饮油烟扰民",
    "description": "东华门街道多福巷小区楼下餐馆油烟太大，影响居民生活",
    "address": "多福巷 3 号",
    "district_code": "110101",
    "street_code": "110101001",
    "matter_code": "0601001",
    "caller_phone": "13812348000",
}


def counts(url: str) -> tuple[int, int]:
    with session_scope(url) as s:
        return (
            int(s.scalar(select(func.count()).select_from(Case)) or 0),
            int(s.scalar(select(func.count()).select_from(CityOrder)) or 0),
        )


def test_order_becomes_a_case_with_the_upstream_deadline(city: City, auth: Login, seeded_url: str) -> None:
    deadline = (datetime.now(UTC) + timedelta(hours=48)).replace(microsecond=0)
    r: Any = city.upstream.send_order(ORDER | {"deadline": deadline.isoformat()})
    assert r.status_code == 201, r.text
    number = r.json()["case_number"]
    agent = auth("agent1")
    case = city.client.get(f"/api/cases/{number}", headers=agent).json()
    assert case["channel"] == "city_dispatch" and case["channel_label"] == "市级派单"
    assert case["description"].startswith("【餐饮油烟扰民】")
    for action, extra in (("register", {}), ("dispatch", {"unit_code": "S110101001"})):
        r = city.client.post(
            f"/api/cases/{number}/transitions", json={"action": action, **extra}, headers=agent
        )
        assert r.status_code == 200, r.text
    due = datetime.fromisoformat(r.json()["due_at"])
    # the matter allows 5 days; the city platform's 48 h deadline wins
    assert abs((due - deadline).total_seconds()) < 1


def test_same_order_again_is_the_same_case_other_content_is_refused(city: City, seeded_url: str) -> None:
    a = city.upstream.send_order(ORDER)
    b = city.upstream.send_order(ORDER)  # a retry: new nonce, same order
    assert a.status_code == 201 and b.status_code == 200 and b.json()["replayed"] is True
    assert a.json()["case_number"] == b.json()["case_number"]
    c = city.upstream.send_order(ORDER | {"description": "另一件事"})
    assert c.status_code == 409 and "different content" in c.json()["detail"]
    assert counts(seeded_url) == (1, 1)


def test_bad_signatures_replays_and_bad_bodies_are_refused(city: City, seeded_url: str) -> None:
    raw, headers = city.upstream.signed(ORDER)
    post = city.client.post
    assert post("/api/city/orders", content=raw, headers=headers).status_code == 201
    r: Any = post("/api/city/orders", content=raw, headers=headers)  # the same request again
    assert r.status_code == 409 and "replayed" in r.json()["detail"]

    def signed_with(**change: str) -> dict[str, str]:
        h = signing.sign_headers(PARTNER, KEY, "POST", "/api/city/orders", raw)
        h.update(change)
        return h

    bad = [
        (signed_with(**{"X-Signature": "0" * 64}), "bad signature"),
        (signed_with(**{"X-Partner": "nobody"}), "unknown partner"),
        (signed_with(**{"X-Nonce": "x"}), "X-Nonce"),
        (signed_with(**{"X-Timestamp": "soon"}), "Unix seconds"),
    ]
    old = str(int(time.time()) - 3600)
    nonce = "n" * 16
    bad.append(
        (
            {
                "X-Partner": PARTNER,
                "X-Timestamp": old,
                "X-Nonce": nonce,
                "X-Signature": signing.signature(KEY, old, nonce, "POST", "/api/city/orders", raw),
            },
            "300 s away",
        )
    )
    wrong_key = signing.sign_headers(PARTNER, "someone-elses-key", "POST", "/api/city/orders", raw)
    bad.append((wrong_key, "bad signature"))
    for headers_, words in bad:
        r = post("/api/city/orders", content=raw, headers=headers_)
        assert r.status_code == 401 and words in r.json()["detail"], (words, r.text)
    # a body changed after signing
    h = signed_with()
    r = post("/api/city/orders", content=raw.replace(b"0601001", b"0601002"), headers=h)
    assert r.status_code == 401
    for body, words in ((b"not json", "JSON object"), (b"[1, 2]", "JSON object")):
        r = post("/api/city/orders", content=body, headers=city.upstream.signed(body)[1])
        assert r.status_code == 422 and words in r.json()["detail"]
    r = city.upstream.send_order({"order_id": "X-1"})
    assert r.status_code == 422 and "description" in r.json()["detail"]
    r = city.upstream.send_order(ORDER | {"order_id": "X-2", "deadline": "2026-12-05T12:00:00"})
    assert r.status_code == 422 and "time zone" in r.json()["detail"]
    r = city.upstream.send_order(ORDER | {"order_id": "X-3", "matter_code": "9999999"})
    assert r.status_code == 422 and "unknown matter" in r.json()["detail"]
    assert counts(seeded_url) == (1, 1)  # the first one only, once


def test_signature_is_over_the_exact_bytes(city: City) -> None:
    raw = json.dumps(ORDER, ensure_ascii=False, indent=2).encode()
    r = city.client.post("/api/city/orders", content=raw, headers=city.upstream.signed(raw)[1])
    assert r.status_code == 201
