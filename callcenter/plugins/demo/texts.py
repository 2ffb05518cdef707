"""Realistic complaint texts the demo brings in through the case API (网络渠道诉求), so that the
suggester's value is visible even though the phone callers play public read-speech clips (news
sentences and greetings, which it rightly does not take for requests).

The texts were written for this demo (no third-party data); they are not part of any training or
evaluation set. Each one goes through ``POST /api/suggest`` and becomes a case with the suggested
matter, place and unit, dispatched when the suggester names a unit (otherwise only registered), with
an ``Idempotency-Key`` so that running the demo again adds nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

#: (channel, caller's phone, text)
DEMO_TEXTS: tuple[tuple[str, str, str], ...] = (
    (
        "wechat",
        "13911112001",
        "东城区东华门街道南池子大街有家烧烤店每天晚上在门口摆桌子烤串，油烟和炭火味飘进我们楼里，"
        "晚上十一点多还很吵，孩子没法睡觉，希望有关部门管一管。",
    ),
    (
        "web",
        "13911112002",
        "朝阳区望京街道望京西园三区的小区里有人私自装了好几个地锁，把公共车位占了，"
        "物业说管不了，请尽快处理。",
    ),
    (
        "app",
        "13911112003",
        "海淀区中关村街道科育社区从今天早上六点开始停水，到现在中午了还没来水，也没有看到停水通知，"
        "家里有老人，生活很不方便。",
    ),
    (
        "wechat",
        "13911112004",
        "西城区什刹海街道地安门外大街上的井盖坏了一个角，晚上骑车经过很危险，昨天有人差点摔倒，请尽快修一下。",
    ),
    (
        "web",
        "13911112005",
        "丰台区卢沟桥街道有个工地每天夜里十二点以后还在施工，打桩声音特别大，已经持续一个星期了。",
    ),
    (
        "app",
        "13911112006",
        "我在石景山区八角街道一家健身房办了年卡，现在店突然关门了，老板联系不上，剩下的钱退不了，想投诉。",
    ),
)


@dataclass
class SeedResult:
    created: list[str]
    replayed: int
    suggested: int
    failed: list[str]


def seed_texts(
    base_url: str, username: str, password: str, texts: tuple[tuple[str, str, str], ...] = DEMO_TEXTS
) -> SeedResult:
    """Put ``texts`` in as cases through the API of ``base_url`` (logged in as an agent)."""
    result = SeedResult([], 0, 0, [])
    with httpx.Client(base_url=base_url, timeout=30) as c:
        r = c.post("/api/auth/token", data={"username": username, "password": password})
        r.raise_for_status()
        c.headers["Authorization"] = "Bearer " + r.json()["access_token"]
        for i, (channel, phone, text) in enumerate(texts):
            body: dict[str, Any] = {
                "description": text,
                "channel": channel,
                "caller_phone": phone,
                "kind": "complaint",
            }
            s = c.post("/api/suggest", json={"text": text, "caller_phone": phone})
            if s.status_code == 200:
                sug = s.json()
                if sug.get("matters"):
                    result.suggested += 1
                    body["matter_code"] = sug["matters"][0]["code"]
                area = sug.get("area") or {}
                for level in ("district", "street", "community"):
                    if area.get(level) and area[level].get("code"):
                        body[f"{level}_code"] = area[level]["code"]
                if sug.get("unit") and sug["unit"].get("code"):
                    body["register"] = True
                    body["dispatch_unit_code"] = sug["unit"]["code"]
            r = c.post("/api/cases", json=body, headers={"Idempotency-Key": f"demo-text-{i}"})
            if r.status_code == 422 and body.get("dispatch_unit_code"):
                # the unit cannot take it (e.g. inactive): register only, the agent dispatches by hand
                body.pop("register")
                body.pop("dispatch_unit_code")
                r = c.post("/api/cases", json=body, headers={"Idempotency-Key": f"demo-text-{i}-registered"})
            if r.is_success and r.headers.get("Idempotent-Replayed") == "true":
                result.replayed += 1
            elif r.is_success:
                result.created.append(r.json()["number"])
            else:
                result.failed.append(f"{i}: HTTP {r.status_code} {r.text[:200]}")
    return result
