"""Call rows (通话记录): created by whichever component sees a call first (AMI bridge, AGI, speech)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from callcenter.db.models import Call, TranscriptUtterance
from callcenter.domain.nodes import node_of_uniqueid
from callcenter.exceptions import NotFound


def get_or_create_call(session: Session, uniqueid: str, **fields: Any) -> Call:
    """The call with Asterisk ``uniqueid``; created with ``fields`` when absent.

    Safe when two processes race to create the same call: the loser re-reads the winner's row
    (a SAVEPOINT keeps the caller's transaction usable). Fields given for an existing call only
    fill columns that are still empty. ``node`` defaults to the node prefix of the uniqueid.
    """
    if fields.get("node") is None:
        fields["node"] = node_of_uniqueid(uniqueid)
    call = session.scalar(select(Call).where(Call.uniqueid == uniqueid))
    if call is None:
        try:
            with session.begin_nested():
                call = Call(uniqueid=uniqueid, **fields)
                session.add(call)
                session.flush()
            return call
        except IntegrityError:
            call = session.scalar(select(Call).where(Call.uniqueid == uniqueid))
            if call is None:  # pragma: no cover - the unique violation came from elsewhere
                raise
    for key, value in fields.items():
        if value is not None and getattr(call, key) in (None, "", {}):
            setattr(call, key, value)
    return call


def get_call(session: Session, uniqueid: str) -> Call:
    """The call with Asterisk ``uniqueid``; :class:`~callcenter.exceptions.NotFound` (404) when unknown."""
    call = session.scalar(select(Call).where(Call.uniqueid == uniqueid))
    if call is None:
        raise NotFound(f"no call with uniqueid {uniqueid!r}")
    return call


def transcript(session: Session, call: Call) -> list[TranscriptUtterance]:
    """The call's final transcript utterances in order (``transcript_utterances``)."""
    return list(
        session.scalars(
            select(TranscriptUtterance)
            .where(TranscriptUtterance.call_id == call.id)
            .order_by(TranscriptUtterance.seq)
        )
    )
