"""Where a case came from (工单来源): the one enumeration of intake channels.

The ``cases.channel`` column holds one of these values. Every source lands in the same workflow
(:mod:`callcenter.domain.workflow`), the same suggester and the same dispatch rules; only the way the
case arrives differs. Reports, the wallboard and the KPIs break volumes down by these values, so a new
source is added here (and nowhere else) with its Chinese label.
"""

from __future__ import annotations

from enum import StrEnum


class Source(StrEnum):
    PHONE = "phone"  # 热线电话
    WEB = "web"  # 网站填报 (the public web form)
    OPEN311 = "open311"  # Open311 GeoReport v2 clients: 微信小程序, third-party apps
    CITY_DISPATCH = "city_dispatch"  # 市级派单: orders pushed down by the city 12345 platform
    GRID = "grid"  # 网格员上报 (patrol finds, PDA / 民情日记)
    PLATFORM = "platform"  # 平台推送 (other government platforms)
    LEADER = "leader"  # 领导指派
    APP = "app"  # the center's own app
    WECHAT = "wechat"  # 微信 (entered by an agent)


SOURCE_LABELS: dict[str, str] = {
    Source.PHONE: "热线电话",
    Source.WEB: "网站填报",
    Source.OPEN311: "Open311 / 小程序",
    Source.CITY_DISPATCH: "市级派单",
    Source.GRID: "网格员上报",
    Source.PLATFORM: "平台推送",
    Source.LEADER: "领导指派",
    Source.APP: "移动应用",
    Source.WECHAT: "微信",
}

#: Sources an agent may name when entering a case by hand in the console (the others have their own
#: intake: the public form, Open311, the city platform's API, the grid worker app).
AGENT_ENTERED = (Source.PHONE, Source.WEB, Source.APP, Source.WECHAT, Source.LEADER, Source.PLATFORM)


def label(value: str) -> str:
    return SOURCE_LABELS.get(value, value)
