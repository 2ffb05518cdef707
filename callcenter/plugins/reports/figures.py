"""The figures of a report (报告数据): every table, chart series and summary sentence, from the database.

Volumes are SQL aggregates (``GROUP BY``) over the cases created in the period and in the previous
period; 三率两度 reuse the one definition of the KPIs (:mod:`callcenter.domain.kpi` through
:mod:`callcenter.services.kpi`), with 特例剔除 applied and listed; repeat complaints come from
:mod:`callcenter.domain.repeats`. The summary is built only from numbers in the tables (each sentence
names the table it comes from), so nothing in it is invented.
"""

from __future__ import annotations

import time as time_module
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callcenter.db.models import Area, Case, Matter, MatterCategory, Unit
from callcenter.domain import kpi, repeats
from callcenter.domain.privacy import mask_phone
from callcenter.domain.workflow import Status
from callcenter.plugins.reports.periods import Period
from callcenter.services import kpi as kpi_svc

CHANNEL_NAMES = {
    "phone": "电话",
    "web": "网站",
    "app": "移动客户端",
    "wechat": "微信",
    "open311": "Open311接口",
    "dispatch": "市级派单",
    "grid": "网格员上报",
    "form": "网上表单",
}
SATISFACTION_NAMES = {"satisfied": "满意", "basic": "基本满意", "unsatisfied": "不满意"}
KIND_NAMES = {
    "caller": "屡诉（同一来电人同一事项）",
    "place": "屡治屡返（同一地点办结后再诉）",
    "text": "多人反映同一事件",
}


@dataclass
class Table:
    """One table of the report: a sheet of the XLSX and a table of the PDF.

    ``formats`` per column: ``text``, ``int``, ``pct`` (a ratio 0…1), ``float``.
    """

    key: str
    title: str
    columns: list[str]
    formats: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    note: str = ""
    pdf_rows: int = 20  # the PDF shows the first rows; the XLSX has them all


@dataclass
class Chart:
    key: str
    title: str
    kind: str  # bar | line | barh
    labels: list[str]
    series: dict[str, list[float]]


@dataclass
class ReportData:
    period: Period
    previous: Period
    center: str
    generated_at: datetime
    tz: ZoneInfo
    total: int
    previous_total: int
    demo_cases: int
    tables: list[Table]
    charts: list[Chart]
    summary: list[str]
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase (bench, logs)

    def table(self, key: str) -> Table:
        return next(t for t in self.tables if t.key == key)


def change(cur: int, prev: int) -> float | None:
    """Change against the previous period (环比), as a ratio; None when the previous period had none."""
    return None if prev == 0 else (cur - prev) / prev


def _bounds(p: Period, tz: ZoneInfo) -> tuple[datetime, datetime]:
    return datetime.combine(p.start, time.min, tz), datetime.combine(p.end + timedelta(days=1), time.min, tz)


def _counts(session: Session, column: Any, lo: datetime, hi: datetime, *joins: Any) -> Counter[str]:
    stmt = select(column, func.count()).select_from(Case)
    for target, on in joins:
        stmt = stmt.outerjoin(target, on)
    stmt = stmt.where(Case.created_at >= lo, Case.created_at < hi, Case.status != Status.MERGED)
    return Counter(
        {str(k) if k is not None else "": int(n) for k, n in session.execute(stmt.group_by(column))}
    )


def _volume_table(
    key: str,
    title: str,
    label: str,
    cur: Counter[str],
    prev: Counter[str],
    names: dict[str, str],
    top: int | None,
) -> Table:
    t = Table(
        key, title, [label, "本期件数", "占比", "上期件数", "环比"], ["text", "int", "pct", "int", "pct"]
    )
    total = sum(cur.values())
    keys = sorted(set(cur) | set(prev), key=lambda k: (-cur.get(k, 0), -prev.get(k, 0), k))
    for k in keys[:top] if top else keys:
        c, p = cur.get(k, 0), prev.get(k, 0)
        t.rows.append([names.get(k, k) or "（未填）", c, c / total if total else None, p, change(c, p)])
    return t


def build(
    session: Session,
    period: Period,
    *,
    tz: ZoneInfo,
    now: datetime,
    center: str,
    top_n: int = 10,
    repeat_window_days: int = 30,
    weights: kpi.Weights = kpi.DEFAULT_WEIGHTS,
) -> ReportData:
    clock = time_module.perf_counter
    started = clock()
    timings: dict[str, float] = {}
    prev = period.previous()
    lo, hi = _bounds(period, tz)
    plo, phi = _bounds(prev, tz)
    as_of = min(now, hi)
    names_area = {c: n for c, n in session.execute(select(Area.code, Area.name))}
    names_unit = {c: n for c, n in session.execute(select(Unit.code, Unit.name))}
    names_matter = {c: n for c, n in session.execute(select(Matter.code, Matter.name))}
    names_cat = {c: n for c, n in session.execute(select(MatterCategory.code, MatterCategory.name))}
    tables: list[Table] = []
    charts: list[Chart] = []

    # ---- volumes (受理量) by source, category, matter, district, street
    by_channel = _counts(session, Case.channel, lo, hi), _counts(session, Case.channel, plo, phi)
    mat_join = (Matter, Matter.code == Case.matter_code)
    by_cat = (
        _counts(session, Matter.category_code, lo, hi, mat_join),
        _counts(session, Matter.category_code, plo, phi, mat_join),
    )
    by_matter = _counts(session, Case.matter_code, lo, hi), _counts(session, Case.matter_code, plo, phi)
    by_district = _counts(session, Case.district_code, lo, hi), _counts(session, Case.district_code, plo, phi)
    by_street = _counts(session, Case.street_code, lo, hi), _counts(session, Case.street_code, plo, phi)
    total, prev_total = sum(by_channel[0].values()), sum(by_channel[1].values())
    demo = int(
        session.scalar(
            select(func.count())
            .select_from(Case)
            .where(Case.created_at >= lo, Case.created_at < hi, Case.is_demo)
        )
        or 0
    )
    overview = Table("overview", "受理总量", ["指标", "本期", "上期", "环比"], ["text", "int", "int", "pct"])
    overview.rows.append(["受理诉求（件）", total, prev_total, change(total, prev_total)])
    tables.append(overview)
    tables.append(_volume_table("channels", "来源渠道", "渠道", *by_channel, CHANNEL_NAMES, None))
    tables.append(_volume_table("categories", "事项大类", "大类", *by_cat, names_cat, None))
    tables.append(_volume_table("districts", "区县", "区县", *by_district, names_area, None))
    tables.append(_volume_table("streets", "街道乡镇", "街道乡镇", *by_street, names_area, None))
    matters_t = _volume_table("matters", "高频事项", "事项", *by_matter, names_matter, top_n)
    matters_t.title = f"高频事项 前{top_n}"
    tables.append(matters_t)
    streets_top = _volume_table(
        "hot_streets", f"高频区域（街道）前{top_n}", "街道乡镇", *by_street, names_area, top_n
    )
    tables.append(streets_top)
    by_comm = _counts(session, Case.community_code, lo, hi), _counts(session, Case.community_code, plo, phi)
    by_comm[0].pop("", None)
    by_comm[1].pop("", None)
    tables.append(
        _volume_table("hot_communities", f"高频区域（社区）前{top_n}", "社区村", *by_comm, names_area, top_n)
    )

    timings["volumes"] = clock() - started
    # ---- daily trend of the top matters (趋势)
    kcases = kpi_svc.load_cases(session, kpi_svc.Window(period.start, period.end, tz))
    in_period = [c for c in kcases if lo <= c.created_at < hi]
    top_codes = [k for k, _ in sorted(by_matter[0].items(), key=lambda kv: (-kv[1], kv[0])) if k][:5]
    trend = kpi.daily_trend(
        in_period, period.start, period.end, tz, series_key=kpi.matter_of, series=top_codes
    )
    trend_t = Table(
        "trend",
        "每日受理量及前五事项趋势",
        ["日期", "受理量", *[names_matter.get(c, c) for c in top_codes]],
        ["text", "int", *["int"] * len(top_codes)],
        pdf_rows=40,
    )
    for pt in trend:
        trend_t.rows.append([pt.day, pt.count, *[pt.by_key.get(c, 0) for c in top_codes]])
    tables.append(trend_t)
    charts.append(
        Chart(
            "trend",
            "每日受理量",
            "line",
            [p.day[5:] for p in trend],
            {"受理量": [float(p.count) for p in trend]}
            | {names_matter.get(c, c): [float(p.by_key.get(c, 0)) for p in trend] for c in top_codes[:3]},
        )
    )
    ch = tables[1]
    charts.append(
        Chart(
            "channels",
            "来源渠道",
            "bar",
            [r[0] for r in ch.rows],
            {"本期": [r[1] for r in ch.rows], "上期": [r[3] for r in ch.rows]},
        )
    )
    charts.append(
        Chart(
            "matters",
            f"高频事项 前{top_n}",
            "barh",
            [r[0] for r in matters_t.rows],
            {"本期": [r[1] for r in matters_t.rows]},
        )
    )
    charts.append(
        Chart(
            "streets",
            f"高频区域 前{top_n}",
            "barh",
            [r[0] for r in streets_top.rows],
            {"本期": [r[1] for r in streets_top.rows]},
        )
    )

    timings["load_cases"] = clock() - started - sum(timings.values())
    # ---- 三率两度 of units and streets (one definition: domain.kpi), 特例剔除 applied
    one_period = lambda c: lo  # noqa: E731 - every case of the window in one ranking period
    overall = kpi.scorecard("all", in_period, as_of, weights)  # as services.kpi.report: one definition
    kpi_cols = ["排名", "名称", "工单数", "剔除数", "响应率", "按期办结率", "解决率", "满意率", "综合得分"]
    kpi_fmt = ["int", "text", "int", "int", "pct", "pct", "pct", "pct", "float"]
    groupings: tuple[tuple[kpi.GroupBy, str, dict[str, str]], ...] = (
        ("unit", "承办单位三率两度排名", names_unit),
        ("street", "街道乡镇三率两度排名", names_area),
    )
    for by, title, names in groupings:
        ranks = kpi.rankings(
            kcases, by=by, period="month", now=as_of, tz=tz, weights=weights, moment=one_period
        )
        t = Table(f"kpi_{by}", title, kpi_cols, kpi_fmt, pdf_rows=25)
        t.note = "特例剔除的工单不计入任何比率（见“特例剔除”表）；无数据的比率留空。"
        for card in next(iter(ranks.values()), []):
            t.rows.append(
                [
                    card.rank,
                    names.get(card.key, card.key),
                    card.total,
                    card.excluded,
                    card.response.value,
                    card.on_time.value,
                    card.resolution.value,
                    card.satisfaction.value,
                    None if card.score is None else round(card.score * 100, 2),
                ]
            )
        tables.append(t)
    rates = Table(
        "kpi_overall", "全市三率两度", ["指标", "分子", "分母", "比率"], ["text", "float", "int", "pct"]
    )
    for label, rate in (
        ("响应率", overall.response),
        ("按期办结率", overall.on_time),
        ("解决率", overall.resolution),
        ("满意率", overall.satisfaction),
    ):
        rates.rows.append([label, rate.numerator, rate.denominator, rate.value])
    tables.insert(1, rates)

    excl_rows = session.execute(
        select(Case.number, Case.unit_code, Case.matter_code, Case.kpi_exclusion_reason)
        .where(Case.kpi_excluded, Case.status != Status.MERGED)
        .where(
            ((Case.created_at >= lo) & (Case.created_at < hi))
            | ((Case.dispatched_at >= lo) & (Case.dispatched_at < hi))
        )
        .order_by(Case.number)
    ).all()
    excl = Table("exclusions", "特例剔除", ["工单号", "承办单位", "事项", "剔除理由"], ["text"] * 4)
    for number, unit, matter, reason in excl_rows:
        excl.rows.append(
            [
                number,
                names_unit.get(unit or "", unit or ""),
                names_matter.get(matter or "", matter or ""),
                reason or "",
            ]
        )
    tables.append(excl)

    timings["kpi"] = clock() - started - sum(timings.values())
    # ---- overdue (超期) and 督办
    late = session.execute(
        select(
            Case.number,
            Case.unit_code,
            Case.matter_code,
            Case.due_at,
            Case.feedback_at,
            Case.supervised,
            Case.status,
        )
        .where(
            Case.created_at >= lo,
            Case.created_at < hi,
            Case.due_at.is_not(None),
            Case.status != Status.MERGED,
        )
        .where(
            ((Case.feedback_at.is_not(None)) & (Case.feedback_at > Case.due_at))
            | ((Case.feedback_at.is_(None)) & (Case.due_at < as_of))
        )
        .order_by(Case.due_at, Case.number)
    ).all()
    overdue = Table(
        "overdue",
        "超期及督办工单",
        ["工单号", "承办单位", "事项", "办理时限", "反馈时间", "超期小时", "已督办"],
        ["text", "text", "text", "text", "text", "float", "text"],
    )
    for number, unit, matter, due, fb, supervised, _status in late:
        assert due is not None
        end = fb or as_of
        overdue.rows.append(
            [
                number,
                names_unit.get(unit or "", unit or ""),
                names_matter.get(matter or "", matter or ""),
                due.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
                fb.astimezone(tz).strftime("%Y-%m-%d %H:%M") if fb else "未反馈",
                round((end - due).total_seconds() / 3600, 1),
                "是" if supervised else "否",
            ]
        )
    supervised_n = sum(1 for r in late if r.supervised)
    tables.append(overdue)

    # ---- return visits (回访)
    sat = Counter(c.satisfaction for c in in_period if c.satisfaction)
    res = Counter(c.resolved for c in in_period if c.resolved is not None and c.satisfaction)
    answered = sum(sat.values())
    visits = Table("return_visits", "回访结果", ["回访答复", "件数", "占比"], ["text", "int", "pct"])
    for k in ("satisfied", "basic", "unsatisfied"):
        visits.rows.append(
            [SATISFACTION_NAMES[k], sat.get(k, 0), sat.get(k, 0) / answered if answered else None]
        )
    n_res = sum(res.values())
    visits.rows.append(["认为已解决", res.get(True, 0), res.get(True, 0) / n_res if n_res else None])
    visits.rows.append(["认为未解决", res.get(False, 0), res.get(False, 0) / n_res if n_res else None])
    tables.append(visits)

    # ---- repeat complaints (屡诉 / 屡治屡返 / 多人反映)
    timings["overdue_visits"] = clock() - started - sum(timings.values())
    groups = repeat_groups(session, lo, hi, repeat_window_days)
    timings["repeats"] = clock() - started - sum(timings.values())
    rep = Table(
        "repeats",
        "重复诉求（屡诉 / 屡治屡返 / 多人反映）",
        ["类型", "来电人或地点", "事项", "件数", "办结后再诉", "首次", "最近", "工单号"],
        ["text", "text", "text", "int", "int", "text", "text", "text"],
    )
    for g in groups:
        who = (
            mask_phone(g.key)
            if g.kind == "caller"
            else (g.key.split("|", 1)[-1] if g.kind == "place" else f"首件 {g.key}")
        )
        where = names_area.get(who or "", who or "")
        rep.rows.append(
            [
                KIND_NAMES[g.kind],
                where,
                names_matter.get(g.matter_code or "", g.matter_code or ""),
                g.count,
                g.returns,
                g.first_at.astimezone(tz).strftime("%Y-%m-%d"),
                g.last_at.astimezone(tz).strftime("%Y-%m-%d"),
                "、".join(g.numbers[:6]) + ("…" if g.count > 6 else ""),
            ]
        )
    tables.append(rep)
    kinds = Counter(g.kind for g in groups)

    data = ReportData(
        period=period,
        previous=prev,
        center=center,
        generated_at=now,
        tz=tz,
        total=total,
        previous_total=prev_total,
        demo_cases=demo,
        tables=tables,
        charts=charts,
        summary=[],
        timings=timings,
    )
    data.summary = summarise(data, supervised_n, kinds)
    return data


def repeat_groups(
    session: Session, lo: datetime, hi: datetime, window_days: int = 30
) -> list[repeats.RepeatGroup]:
    """Repeat signals whose latest case falls in [lo, hi): 屡诉 (looking back ``window_days``),
    屡治屡返 and near-duplicate texts across callers."""
    look_lo = lo - timedelta(days=window_days)
    rc = [
        repeats.RepeatCase(*row)
        for row in session.execute(
            select(
                Case.number, Case.created_at, Case.matter_code, Case.caller_phone, Case.street_code,
                Case.community_code, Case.address, Case.description, Case.closed_at,
            ).where(Case.created_at >= look_lo, Case.created_at < hi, Case.status != Status.MERGED)
        )
    ]  # fmt: skip
    found = (
        repeats.repeat_callers(rc, window_days)
        + repeats.recurring_places(rc)
        + repeats.text_clusters([c for c in rc if c.created_at >= lo], strip=("【演示数据】",))
    )
    return [g for g in found if g.last_at >= lo]


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{v * 100:.1f}%"


def summarise(data: ReportData, supervised: int, kinds: Counter[str]) -> list[str]:
    """Sentences built only from the tables' numbers (the table is named in brackets)."""
    out: list[str] = []
    ch = change(data.total, data.previous_total)
    trend = (
        "持平"
        if ch == 0
        else (f"增长{_pct(ch)}" if ch and ch > 0 else (f"下降{_pct(-ch)}" if ch else "（上期无数据）"))
    )
    out.append(
        f"本期（{data.period.label()}）共受理诉求{data.total}件，上期{data.previous_total}件，环比{trend}。〔受理总量〕"
    )
    channels = data.table("channels").rows
    if channels and data.total:
        name, n, share = channels[0][0], channels[0][1], channels[0][2]
        out.append(f"来源渠道中{name}最多，{n}件，占{_pct(share)}。〔来源渠道〕")
    matters = data.table("matters").rows[:3]
    if matters:
        items = "、".join(f"{r[0]}（{r[1]}件）" for r in matters)
        out.append(f"高频事项前{len(matters)}位：{items}。〔高频事项〕")
    streets = [r for r in data.table("hot_streets").rows if r[1]][:3]
    if streets:
        items = "、".join(f"{r[0]}（{r[1]}件）" for r in streets)
        out.append(f"高频区域（街道）前{len(streets)}位：{items}。〔高频区域〕")
    rates = {r[0]: r[3] for r in data.table("kpi_overall").rows}
    out.append(
        f"全市响应率{_pct(rates['响应率'])}，按期办结率{_pct(rates['按期办结率'])}，解决率{_pct(rates['解决率'])}，"
        f"满意率{_pct(rates['满意率'])}。〔全市三率两度〕"
    )
    ranked = [r for r in data.table("kpi_unit").rows if r[0] is not None and r[8] is not None]
    if len(ranked) >= 2:
        out.append(
            f"承办单位综合得分最高为{ranked[0][1]}（{ranked[0][8]:.2f}分），最低为{ranked[-1][1]}"
            f"（{ranked[-1][8]:.2f}分）。〔承办单位三率两度排名〕"
        )
    excl = len(data.table("exclusions").rows)
    if excl:
        out.append(f"经审核特例剔除{excl}件，不计入考核。〔特例剔除〕")
    n_late = len(data.table("overdue").rows)
    out.append(f"超期工单{n_late}件，其中已督办{supervised}件。〔超期及督办工单〕")
    visits = {r[0]: (r[1], r[2]) for r in data.table("return_visits").rows}
    answered = sum(visits[k][0] for k in ("满意", "基本满意", "不满意"))
    if answered:
        out.append(
            f"回访{answered}件，其中不满意{visits['不满意'][0]}件，占{_pct(visits['不满意'][1])}。〔回访结果〕"
        )
    out.append(
        f"重复诉求：屡诉{kinds.get('caller', 0)}组，屡治屡返{kinds.get('place', 0)}处，多人反映同一事件"
        f"{kinds.get('text', 0)}起。〔重复诉求〕"
    )
    if data.demo_cases:
        out.append(f"注意：本期含演示数据{data.demo_cases}件，仅供演示。〔受理总量〕")
    return out


def iso(d: date) -> str:
    return d.isoformat()
