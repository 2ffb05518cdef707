"""The console's queries (the database side of its routes): what the screen-pop shows about a call and
its caller, and the live channel of a call for the agent's commands.

Lookups that other capabilities need too live in the kernel (:mod:`callcenter.services.calls`,
:mod:`callcenter.services.cases`); this module holds what only the console asks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callcenter.db.models import Call, Case, Suggestion, TranscriptUtterance, Unit
from callcenter.domain.callers import REPEAT_CALL_WINDOW, is_repeat_caller
from callcenter.domain.nodes import node_of_uniqueid
from callcenter.domain.workflow import OPEN_STATUSES
from callcenter.exceptions import Conflict
from callcenter.services.calls import get_call, transcript

#: How many of a caller's latest cases the screen-pop looks at, and how many finished ones it lists.
CALLER_CASES = 30
PAST_CASES_SHOWN = 10


@dataclass
class ScreenPopRows:
    """Everything the screen-pop (弹屏) shows about one call, as rows (masking is the route's job)."""

    call: Call
    caller_name: str | None
    open_cases: list[Case]
    past_cases: list[Case]
    prior_calls: int
    utterances: list[TranscriptUtterance]
    suggestion: Suggestion | None
    suggestion_unit_name: str | None

    @property
    def repeat_caller(self) -> bool:
        return is_repeat_caller(self.prior_calls, len(self.open_cases))


def caller_cases(session: Session, phone: str) -> tuple[list[Case], list[Case]]:
    """The caller's latest cases split into open and finished ones (newest first)."""
    open_cases: list[Case] = []
    past_cases: list[Case] = []
    rows = session.scalars(
        select(Case)
        .where(Case.caller_phone == phone)
        .order_by(Case.created_at.desc(), Case.id.desc())
        .limit(CALLER_CASES)
    )
    for c in rows:
        (open_cases if c.status in OPEN_STATUSES else past_cases).append(c)
    return open_cases, past_cases


def prior_calls(session: Session, call: Call) -> int:
    """Other calls from the same number within the repeat-caller window before this call."""
    if not call.caller_number:
        return 0
    since = (call.started_at or datetime.now(UTC)) - REPEAT_CALL_WINDOW
    return int(
        session.scalar(
            select(func.count())
            .select_from(Call)
            .where(Call.caller_number == call.caller_number, Call.id != call.id, Call.started_at >= since)
        )
        or 0
    )


def latest_suggestion(session: Session, call: Call) -> Suggestion | None:
    return session.scalar(
        select(Suggestion).where(Suggestion.call_id == call.id).order_by(Suggestion.id.desc()).limit(1)
    )


def unit_name(session: Session, code: str | None) -> str | None:
    return session.scalar(select(Unit.name).where(Unit.code == code)) if code else None


def screen_pop(session: Session, uniqueid: str) -> ScreenPopRows:
    """弹屏 rows of the call ``uniqueid`` (:class:`~callcenter.exceptions.NotFound` when unknown)."""
    call = get_call(session, uniqueid)
    open_cases: list[Case] = []
    past_cases: list[Case] = []
    if call.caller_number:
        open_cases, past_cases = caller_cases(session, call.caller_number)
    suggestion = latest_suggestion(session, call)
    name = call.caller_name or next((c.caller_name for c in open_cases + past_cases if c.caller_name), None)
    return ScreenPopRows(
        call=call,
        caller_name=name,
        open_cases=open_cases,
        past_cases=past_cases[:PAST_CASES_SHOWN],
        prior_calls=prior_calls(session, call),
        utterances=transcript(session, call),
        suggestion=suggestion,
        suggestion_unit_name=unit_name(session, suggestion.unit_code) if suggestion else None,
    )


def caller_channel(session: Session, uniqueid: str) -> tuple[str, str | None]:
    """The live channel of a call and the node that carries it (404 unknown call, 409 ended / no channel)."""
    call = get_call(session, uniqueid)
    if call.ended_at is not None:
        raise Conflict("the call has already ended")
    if not call.channel:
        raise Conflict("the call's channel is unknown")
    return call.channel, call.node or node_of_uniqueid(call.uniqueid)
