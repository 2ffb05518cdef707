"""Callback outcome counters (回拨/回访结果) on the real databases, counted only when committed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY

from callcenter.db.session import session_scope
from callcenter.domain.callbacks import Failure
from callcenter.services import callbacks as service
from tests.plugins.callbacks.helpers import make_settings

pytestmark = [pytest.mark.redis]

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def outcomes(kind: str, outcome: str, result: str) -> float:
    labels = {"kind": kind, "outcome": outcome, "result": result}
    return REGISTRY.get_sample_value("cc_callback_outcomes_total", labels) or 0.0


def test_callback_outcomes_are_counted_on_commit(db_url: str, redis_url: str, unique_name: str) -> None:
    settings = make_settings(db_url, redis_url)
    with session_scope(db_url) as s:
        a, _ = service.schedule(
            s,
            kind="queue_callback",
            key=f"m:{unique_name}:a",
            phone="13900000011",
            at=NOW - timedelta(minutes=5),
            max_attempts=2,
        )
        service.schedule(
            s,
            kind="queue_callback",
            key=f"m:{unique_name}:b",
            phone="13900000012",
            at=NOW - timedelta(minutes=5),
            max_attempts=2,
        )
        service.add_do_not_call(s, "13900000012", "市民要求不再回拨")
        a_id = a.id
    cancelled = outcomes("queue_callback", "cancelled", "do_not_call")
    retry = outcomes("queue_callback", "retry", "busy")
    failed = outcomes("queue_callback", "failed", "no_answer")
    with session_scope(db_url) as s:
        claims = service.claim_due(s, NOW, settings, "w1")
    assert [c.callback_id for c in claims] == [a_id]
    assert outcomes("queue_callback", "cancelled", "do_not_call") == cancelled + 1
    # an attempt reported in a transaction that rolls back is not counted
    with pytest.raises(RuntimeError), session_scope(db_url) as s:
        service.fail_attempt(s, a_id, 1, Failure.BUSY, NOW, settings.callbacks, None)
        raise RuntimeError("rolled back")
    assert outcomes("queue_callback", "retry", "busy") == retry
    with session_scope(db_url) as s:
        service.fail_attempt(s, a_id, 1, Failure.BUSY, NOW, settings.callbacks, None)
    assert outcomes("queue_callback", "retry", "busy") == retry + 1
    with session_scope(db_url) as s:
        (claim,) = service.claim_due(s, NOW + timedelta(hours=2), settings, "w1")
    with session_scope(db_url) as s:
        service.fail_attempt(s, a_id, claim.attempt, Failure.NO_ANSWER, NOW, settings.callbacks, None)
    assert outcomes("queue_callback", "failed", "no_answer") == failed + 1  # attempts exhausted
