"""Concurrency on the real databases: unique case numbers, no lost update."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from callcenter.db.models import Case, CaseEvent
from callcenter.db.session import session_scope
from callcenter.domain.workflow import Actor, Command, Role
from callcenter.exceptions import Conflict
from callcenter.services import cases as svc

AGENT = Actor(Role.AGENT, None)


def _create(url: str, i: int) -> str:
    with session_scope(url) as s:
        return svc.create_case(
            s, svc.NewCase(description=f"并发受理 {i}", matter_code="0601001"), AGENT
        ).number


def test_concurrent_creation_gives_unique_consecutive_numbers(seeded_url: str) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        numbers = list(pool.map(lambda i: _create(seeded_url, i), range(40)))
    assert len(set(numbers)) == 40
    seqs = sorted(int(n[8:]) for n in numbers)
    assert seqs == list(range(1, 41))
    with session_scope(seeded_url) as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 40


def test_two_agents_dispatching_at_once_one_wins(seeded_url: str) -> None:
    with session_scope(seeded_url) as s:
        number = svc.create_case(
            s, svc.NewCase(description="并发派遣", matter_code="0601001", register=True), AGENT
        ).number
    barrier = threading.Barrier(2)
    results: dict[str, str] = {}

    def dispatch(unit: str) -> None:
        barrier.wait()
        try:
            with session_scope(seeded_url) as s:
                svc.transition(s, number, Command("dispatch", unit_code=unit), AGENT)
            results[unit] = "ok"
        except Conflict as exc:
            results[unit] = f"conflict: {exc}"

    threads = [threading.Thread(target=dispatch, args=(u,)) for u in ("S110101001", "S110101002")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(v.split(":")[0] for v in results.values()) == ["conflict", "ok"], results
    winner = next(u for u, v in results.items() if v == "ok")
    with session_scope(seeded_url) as s:
        case = svc.get_case(s, number)
        assert case.unit_code == winner and case.version == 3
        actions = s.scalars(
            select(CaseEvent.action).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq)
        )
        assert list(actions) == ["create", "register", "dispatch"]
