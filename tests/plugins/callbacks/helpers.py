"""Helpers of the callback tests: settings, closed cases through the real case service, clocks."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from callcenter.config import CallbackSettings, Settings
from callcenter.db.models import Callback, Case, Unit
from callcenter.db.session import get_sessionmaker, session_scope
from callcenter.domain.workflow import Actor, Command, Role
from callcenter.events import OutboxRelay
from callcenter.services import kpi as kpi_svc
from callcenter.services.cases import transition

UNIT = "U-HD-JD01"


#: Callback settings of the tests: always inside the calling window, short back-off, the simulated
#: citizen as the dial target, a fast dialler loop.
TEST_CALLBACKS: dict[str, Any] = {
    "window_start": "00:00",
    "window_end": "00:00",
    "retry_backoff_s": [600, 1800],
    "dial_template": "Local/{phone}@sim-citizen",
    "worker_id": "test",
    "poll_interval_s": 0.2,
}


def make_settings(db_url: str, redis_url: str, **callbacks: Any) -> Settings:
    cb = CallbackSettings(**{**TEST_CALLBACKS, **callbacks})
    return Settings(mode="test", database_url=db_url, redis_url=redis_url, callbacks=cb)


class Clock:
    """An injectable clock: real time plus an offset the test moves forward (or a fixed moment)."""

    def __init__(self, fixed: datetime | None = None) -> None:
        self.fixed = fixed
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return (self.fixed or datetime.now(UTC)) + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


def verified_case(db_url: str, number: str, phone: str | None, unit: str = UNIT) -> None:
    """A case whose unit answered and the center verified (ready to be closed, 结案)."""
    now = datetime.now(UTC)
    with session_scope(db_url) as s:
        if s.scalar(select(Unit).where(Unit.code == unit)) is None:
            s.add(Unit(code=unit, name="海淀区某街道办事处", kind="street_office"))
        s.add(
            Case(
                number=number,
                status="verified",
                description="小区路灯不亮",
                caller_phone=phone,
                hotline="12345",
                unit_code=unit,
                co_unit_codes=[],
                created_at=now - timedelta(days=2),
                dispatched_at=now - timedelta(days=2),
                accepted_at=now - timedelta(days=2),
                accept_due_at=now - timedelta(days=1),
                due_at=now + timedelta(days=3),
                feedback_at=now - timedelta(hours=1),
                feedback_text="已修复",
            )
        )


def close_case(db_url: str, number: str) -> None:
    """结案 through the case service (writes ``case.close`` to the outbox)."""
    with session_scope(db_url) as s:
        transition(s, number, Command("close"), Actor(Role.SUPERVISOR, user_id=None))


def reopen_and_close(db_url: str, number: str) -> None:
    with session_scope(db_url) as s:
        case = s.scalar(select(Case).where(Case.number == number))
        assert case is not None
        if case.status != "registered":
            transition(s, number, Command("reopen", reason="再次处理"), Actor(Role.SUPERVISOR))
    with session_scope(db_url) as s:  # back to verified the short way (test data), then close again
        case = s.scalar(select(Case).where(Case.number == number))
        assert case is not None
        case.status = "verified"
        case.unit_code = UNIT
        case.feedback_at = datetime.now(UTC)
        case.feedback_text = "已再次修复"
    close_case(db_url, number)


def relay(db_url: str, client: Any) -> int:
    """Publish the outbox to Redis (what the worker's outbox loop does)."""
    return OutboxRelay(get_sessionmaker(db_url), client).flush()


def unit_satisfaction(db_url: str, unit: str = UNIT) -> tuple[float | None, int]:
    """满意率 of ``unit`` from the console's KPI functions: (value, evaluated closures).

    As the unit rankings count it: every evaluated closure, attributed to the unit recorded on the
    evaluation (a reopened case's earlier answer still counts for the unit that handled it)."""
    from callcenter.domain import kpi

    now = datetime.now(UTC)
    with session_scope(db_url) as s:
        cases = kpi_svc.load_cases(s, kpi_svc.Window.last_days(7, now, "Asia/Shanghai"))
    answers = [e for c in cases for e in kpi.evaluations(c) if (e.unit_code or c.unit_code) == unit]
    rate = kpi.satisfaction_rate([], answers=answers)
    return rate.value, rate.denominator


def callbacks(db_url: str) -> list[Callback]:
    with session_scope(db_url) as s:
        rows = list(s.scalars(select(Callback).order_by(Callback.id)))
        for r in rows:
            s.expunge(r)
        return rows


def wait_for(predicate: Callable[[], Any], timeout: float = 60.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")
