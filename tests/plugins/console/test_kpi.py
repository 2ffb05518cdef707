"""三率两度: the pure indicators (hand-computed cases) and the queries on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callcenter.db.session import session_scope
from callcenter.domain import kpi
from callcenter.domain.workflow import Actor, Command, Role
from callcenter.services import cases as svc
from callcenter.services import kpi as kpi_svc
from tests.kernel.conftest import seed_test_data

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)


def case(n: str, **kw: object) -> kpi.KpiCase:
    base: dict[str, object] = {"number": n, "created_at": NOW - 48 * H}
    base.update(kw)
    return kpi.KpiCase(**base)  # type: ignore[arg-type]


def dispatched(n: str, unit: str = "U1", street: str = "S1", **kw: object) -> kpi.KpiCase:
    at = NOW - 48 * H
    fields: dict[str, object] = {
        "status": "accepted",
        "unit_code": unit,
        "street_code": street,
        "dispatched_at": at,
        "accept_due_at": at + 2 * H,
        "due_at": at + 24 * H,
    }
    fields.update(kw)
    return case(n, **fields)


def test_response_rate_counts_on_time_signing_and_late_pending() -> None:
    at = NOW - 48 * H
    cases = [
        dispatched("a", accepted_at=at + H),  # on time
        dispatched("b", accepted_at=at + 3 * H),  # late
        dispatched("c", status="dispatched"),  # never signed, deadline passed → counts, not responded
        case("d", status="dispatched", dispatched_at=NOW - 0.5 * H, accept_due_at=NOW + H),  # pending
        dispatched("e", accepted_at=at + 3 * H, kpi_excluded=True),  # 特例剔除
    ]
    r = kpi.response_rate(cases, NOW)
    assert (r.numerator, r.denominator) == (1, 3)
    assert r.value == pytest.approx(1 / 3)


def test_on_time_rate_uses_feedback_time_and_due_cases_only() -> None:
    at = NOW - 48 * H
    cases = [
        dispatched("a", feedback_at=at + 20 * H),
        dispatched("b", feedback_at=at + 30 * H),
        dispatched("c"),  # due 24 h after dispatch, no feedback: overdue → not on time
        case("d", dispatched_at=NOW - H, accept_due_at=NOW + H, due_at=NOW + 20 * H),  # not yet due
    ]
    r = kpi.on_time_rate(cases, NOW)
    assert (r.numerator, r.denominator) == (1, 3)


def test_resolution_and_satisfaction_with_basic_weight() -> None:
    cases = [
        case("a", resolved=True, satisfaction="satisfied"),
        case("b", resolved=False, satisfaction="unsatisfied"),
        case("c", resolved=True, satisfaction="basic"),
        case("d"),  # not evaluated
        case("e", resolved=False, satisfaction="unsatisfied", kpi_excluded=True),
    ]
    assert kpi.resolution_rate(cases).value == pytest.approx(2 / 3)
    assert kpi.satisfaction_rate(cases).value == pytest.approx(2 / 3)
    assert kpi.satisfaction_rate(cases, basic_weight=0.8).value == pytest.approx(1.8 / 3)


def test_every_closure_evaluation_counts_after_a_reopen() -> None:
    """重办 after 不满意: the earlier answer still counts against the unit that handled that closure."""
    unsatisfied = kpi.Evaluation("unsatisfied", False, "U1")
    # reopened and not yet closed again: no current answer, unit cleared
    pending = dispatched("R1", unit="U1", past_evaluations=(unsatisfied,))
    pending = kpi.KpiCase(**{**pending.__dict__, "unit_code": None})
    # reopened, handled by another unit, evaluated 满意 this time
    again = dispatched(
        "R2", unit="U2", satisfaction="satisfied", resolved=True, past_evaluations=(unsatisfied,)
    )
    plain = dispatched("P1", unit="U1", satisfaction="satisfied", resolved=True)
    assert kpi.evaluations(again) == [unsatisfied, kpi.Evaluation("satisfied", True, "U2")]
    assert kpi.satisfaction_rate([pending, again, plain]).as_dict()["numerator"] == 2.0
    assert kpi.satisfaction_rate([pending, again, plain]).denominator == 4
    assert kpi.resolution_rate([pending, again, plain]) == kpi.Rate(2, 4)
    day = kpi.rankings([pending, again, plain], by="unit", period="day", now=NOW, tz=TZ)
    cards = {c.key: c for c in next(iter(day.values()))}
    # U1: its own satisfied case and both unsatisfied earlier closures; U2: only its own closure
    assert cards["U1"].satisfaction == kpi.Rate(1.0, 3) and cards["U1"].resolution == kpi.Rate(1, 3)
    assert cards["U2"].satisfaction == kpi.Rate(1.0, 1)
    assert cards["U1"].total == 1  # the reopened case without a unit is not one of U1's cases
    by_street = kpi.rankings([pending, again, plain], by="street", period="day", now=NOW, tz=TZ)
    assert next(iter(by_street.values()))[0].satisfaction == kpi.Rate(2.0, 4)
    # 特例剔除 removes the earlier answers too
    excluded = kpi.KpiCase(**{**again.__dict__, "kpi_excluded": True})
    assert kpi.satisfaction_rate([excluded]).denominator == 0
    day = kpi.rankings([excluded], by="unit", period="day", now=NOW, tz=TZ)
    assert [c.key for c in next(iter(day.values()))] == ["U2"]


def test_no_denominator_is_none_not_zero() -> None:
    r = kpi.resolution_rate([case("a")])
    assert r.value is None
    card = kpi.scorecard("x", [case("a")], NOW)
    assert card.score is None


def test_composite_score_renormalises_missing_rates() -> None:
    rates = {
        "response": kpi.Rate(1, 1),
        "on_time": kpi.Rate(0, 0),
        "resolution": kpi.Rate(0, 0),
        "satisfaction": kpi.Rate(1, 2),
    }
    # (0.10 × 1 + 0.45 × 0.5) / 0.55
    assert kpi.composite_score(rates) == pytest.approx((0.10 + 0.225) / 0.55)


def test_daily_and_monthly_rankings_by_unit_and_street() -> None:
    at = NOW - 48 * H
    cases = [
        dispatched("a", unit="U1", street="S1", accepted_at=at + H, resolved=True, satisfaction="satisfied"),
        dispatched("b", unit="U1", street="S1", accepted_at=at + H, resolved=True, satisfaction="satisfied"),
        dispatched(
            "c", unit="U2", street="S2", accepted_at=at + 5 * H, resolved=False, satisfaction="unsatisfied"
        ),
        dispatched(
            "d", unit="U3", street="S2", accepted_at=at + 5 * H, resolved=False, satisfaction="unsatisfied"
        ),
        case("e", unit_code="U4", created_at=NOW - 48 * H),  # no data: listed, unranked
    ]
    daily = kpi.rankings(cases, by="unit", period="day", now=NOW, tz=TZ)
    assert list(daily) == ["2026-11-20"]
    ranked = daily["2026-11-20"]
    assert [(c.key, c.rank) for c in ranked] == [("U1", 1), ("U2", 2), ("U3", 2), ("U4", None)]
    assert ranked[0].score == pytest.approx(1.0)
    streets = kpi.rankings(cases, by="street", period="month", now=NOW, tz=TZ)
    assert [(c.key, c.total) for c in streets["2026-11"]] == [("S1", 2), ("S2", 2)]


def test_period_key_uses_local_time() -> None:
    late_utc = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)  # 01:00 on 1 December in Beijing
    assert kpi.period_key(late_utc, "day", TZ) == "2026-12-01"
    assert kpi.period_key(late_utc, "month", TZ) == "2026-12"


def test_high_frequency_and_trend() -> None:
    cases = [
        case("a", matter_code="M1", street_code="S1"),
        case("b", matter_code="M1", street_code="S2"),
        case("c", matter_code="M2", street_code="S1", created_at=NOW - 24 * H),
        case("d", matter_code=None, street_code="S1", created_at=NOW),
    ]
    top = kpi.high_frequency(cases, kpi.matter_of, top=5)
    assert [(f.key, f.count) for f in top] == [("M1", 2), ("M2", 1)]
    assert top[0].share == pytest.approx(2 / 3)
    trend = kpi.daily_trend(
        cases, date(2026, 11, 20), date(2026, 11, 23), TZ, series_key=kpi.matter_of, series=["M1"]
    )
    assert [(p.day, p.count, p.by_key["M1"]) for p in trend] == [
        ("2026-11-20", 2, 2),
        ("2026-11-21", 1, 0),
        ("2026-11-22", 1, 0),
        ("2026-11-23", 0, 0),
    ]
    with pytest.raises(ValueError):
        kpi.daily_trend(cases, date(2026, 11, 23), date(2026, 11, 20), TZ)


statuses = st.sampled_from(["dispatched", "accepted", "feedback", "closed", "evaluated"])
opt_hours = st.one_of(st.none(), st.integers(min_value=-100, max_value=100))


@st.composite
def kpi_cases(draw: st.DrawFn) -> kpi.KpiCase:
    at = NOW - timedelta(hours=draw(st.integers(0, 200)))

    def maybe(h: int | None) -> datetime | None:
        return None if h is None else at + timedelta(hours=h)

    return kpi.KpiCase(
        number=str(draw(st.integers(0, 10**6))),
        created_at=at,
        status=draw(statuses),
        unit_code=draw(st.sampled_from(["U1", "U2", None])),
        dispatched_at=at if draw(st.booleans()) else None,
        accepted_at=maybe(draw(opt_hours)),
        accept_due_at=at + timedelta(hours=2),
        due_at=at + timedelta(hours=48),
        feedback_at=maybe(draw(opt_hours)),
        resolved=draw(st.one_of(st.none(), st.booleans())),
        satisfaction=draw(st.sampled_from([None, "satisfied", "basic", "unsatisfied"])),
        kpi_excluded=draw(st.booleans()),
    )


@given(st.lists(kpi_cases(), max_size=40))
def test_rates_are_ratios_and_exclusions_never_count(cases: list[kpi.KpiCase]) -> None:
    card = kpi.scorecard("x", cases, NOW)
    for r in (card.response, card.on_time, card.resolution, card.satisfaction):
        assert 0 <= r.numerator <= r.denominator
        assert r.denominator <= len([c for c in cases if not c.kpi_excluded])
    without = kpi.scorecard("x", [c for c in cases if not c.kpi_excluded], NOW)
    assert (card.response, card.on_time, card.resolution, card.satisfaction) == (
        without.response,
        without.on_time,
        without.resolution,
        without.satisfaction,
    )
    assert card.score is None or 0.0 <= card.score <= 1.0


# --------------------------------------------------------------------------- queries


@pytest.mark.postgres
def test_report_and_overdue_on_the_database(db_url: str) -> None:
    seed_test_data(db_url)
    agent = Actor(Role.AGENT, user_id=None)
    supervisor = Actor(Role.SUPERVISOR)
    street = Actor(Role.UNIT_HANDLER, unit_code="S110101001")
    now = datetime.now(UTC)
    numbers = []
    with session_scope(db_url) as s:
        for i, (matter, unit) in enumerate(
            [
                ("0601001", "S110101001"),
                ("0601001", "S110101001"),
                ("0601002", "S110101002"),
                ("1101001", "B110101-SW"),
            ]
        ):
            c = svc.create_case(
                s,
                svc.NewCase(
                    description=f"诉求{i}",
                    matter_code=matter,
                    district_code="110101",
                    street_code="110101001" if unit != "S110101002" else "110101002",
                    register=True,
                    dispatch_unit_code=unit,
                ),
                agent,
                now=now - timedelta(days=3),
            )
            numbers.append(c.number)
    with session_scope(db_url) as s:
        svc.transition(s, numbers[0], Command("accept"), street, now=now - timedelta(days=3) + H)
        svc.transition(
            s,
            numbers[0],
            Command("feedback", text="已处理", resolved=True),
            street,
            now=now - timedelta(days=2),
        )
        svc.transition(
            s, numbers[1], Command("exclude_kpi", reason="重复诉求"), supervisor, now=now - timedelta(days=2)
        )
    with session_scope(db_url) as s:
        report = kpi_svc.report(
            s, kpi_svc.Window.last_days(7, now, "Asia/Shanghai"), by="unit", period="day", now=now
        )
        overdue = kpi_svc.overdue(s, now)
    assert report["overall"]["total"] == 4
    assert report["overall"]["excluded"] == 1
    day = next(iter(report["rankings"].values()))
    street1 = next(c for c in day if c["key"] == "S110101001")
    assert street1["name"] == "东华门街道办事处"
    assert street1["excluded"] == 1
    assert street1["response"] == {"numerator": 1, "denominator": 1, "value": 1.0}
    assert street1["on_time"]["value"] == 1.0
    assert street1["rank"] == 1
    matters = report["high_frequency_matters"]
    assert matters[0]["code"] == "0601001" and matters[0]["count"] == 2 and matters[0]["name"] == "餐饮油烟"
    assert sum(p["count"] for p in report["trend"]) == 4
    # dispatched 3 days ago and never signed for: 签收超时 (the accept deadline is checked first)
    kinds = {r["number"]: r["kind"] for r in overdue}
    assert numbers[0] not in kinds  # answered on time
    assert kinds[numbers[2]] == "accept"
    assert kinds[numbers[3]] == "accept"
    assert all(r["overdue_hours"] > 0 for r in overdue)


def test_reopened_unsatisfied_case_still_counts_on_the_database(db_url: str) -> None:
    """Real database: 不满意 → 重办 → another unit → 满意. Both answers count, each for its own unit."""
    seed_test_data(db_url)
    agent, system = Actor(Role.AGENT, user_id=None), Actor(Role.SYSTEM)
    first = Actor(Role.UNIT_HANDLER, unit_code="S110101001")
    second = Actor(Role.UNIT_HANDLER, unit_code="S110101002")
    now = datetime.now(UTC)
    t = now - timedelta(days=3)
    with session_scope(db_url) as s:
        number = svc.create_case(
            s,
            svc.NewCase(
                description="楼下饭馆油烟",
                matter_code="0601001",
                district_code="110101",
                street_code="110101001",
                register=True,
                dispatch_unit_code="S110101001",
            ),
            agent,
            now=t,
        ).number

    def handle(unit: Actor, satisfaction: str, start: datetime) -> None:
        with session_scope(db_url) as s:
            for i, cmd in enumerate(
                [
                    Command("accept"),
                    Command("feedback", text="已处理", resolved=True),
                ]
            ):
                svc.transition(s, number, cmd, unit, now=start + (i + 1) * H)
            svc.transition(s, number, Command("verify"), agent, now=start + 3 * H)
            svc.transition(s, number, Command("close"), agent, now=start + 4 * H)
            svc.transition(
                s,
                number,
                Command("evaluate", satisfaction=satisfaction, resolved=satisfaction != "unsatisfied"),
                system,
                now=start + 5 * H,
            )

    def report() -> dict[str, object]:
        with session_scope(db_url) as s:
            return kpi_svc.report(
                s, kpi_svc.Window.last_days(7, now, "Asia/Shanghai"), by="unit", period="month", now=now
            )

    handle(first, "unsatisfied", t)
    with session_scope(db_url) as s:
        svc.transition(s, number, Command("reopen", reason="回访不满意"), system, now=t + 6 * H)
    # reopened, not handled again yet: the unsatisfied answer still counts against the first unit
    data = report()
    assert data["overall"]["satisfaction"] == {"numerator": 0.0, "denominator": 1, "value": 0.0}  # type: ignore[index]
    cards = {c["key"]: c for c in next(iter(data["rankings"].values()))}  # type: ignore[attr-defined]
    assert cards["S110101001"]["satisfaction"]["denominator"] == 1
    assert cards["S110101001"]["satisfaction"]["value"] == 0.0
    with session_scope(db_url) as s:
        svc.transition(s, number, Command("dispatch", unit_code="S110101002"), agent, now=t + 7 * H)
    handle(second, "satisfied", t + 8 * H)
    data = report()
    assert data["overall"]["satisfaction"] == {"numerator": 1.0, "denominator": 2, "value": 0.5}  # type: ignore[index]
    assert data["overall"]["resolution"]["denominator"] == 2  # type: ignore[index]
    cards = {c["key"]: c for c in next(iter(data["rankings"].values()))}  # type: ignore[attr-defined]
    assert cards["S110101001"]["satisfaction"]["value"] == 0.0
    assert cards["S110101002"]["satisfaction"] == {"numerator": 1.0, "denominator": 1, "value": 1.0}


def test_window_validation() -> None:
    with pytest.raises(ValueError):
        kpi_svc.Window.last_days(0, NOW, "Asia/Shanghai")
    w = kpi_svc.Window.last_days(1, NOW, "Asia/Shanghai")
    assert w.start == w.end == date(2026, 11, 22)
    assert w.start_utc == datetime(2026, 11, 21, 16, 0, tzinfo=UTC)
