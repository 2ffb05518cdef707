"""Pure translation of AMI events into domain facts (AMI 事件 → 业务事件); no I/O.

The bridge feeds every AMI event (a case-insensitive mapping of headers) to :func:`translate`, which
returns what to change on the call row and which domain events to publish. Keeping this pure makes the
mapping testable without Asterisk; the bridge only applies the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from callcenter.events import STREAM_AGENTS, STREAM_CALLS, STREAM_QUEUES

USER_EVENT_CALL = "CcCall"


def header(ev: Any, name: str, default: str = "") -> str:
    """A header value as a string ('' when missing); AMI repeats some headers (take the first)."""
    value = ev.get(name, default)
    if isinstance(value, list):
        value = value[0] if value else default
    return str(value) if value is not None else default


def event_time(ev: Any) -> datetime:
    """The event's ``Timestamp`` header (``timestampevents = yes``), or now."""
    raw = header(ev, "Timestamp")
    try:
        return datetime.fromtimestamp(float(raw), tz=UTC)
    except ValueError:
        return datetime.now(UTC)


def _num(raw: str) -> float | None:
    try:
        return float(raw)
    except ValueError:
        return None


def _int(raw: str) -> int | None:
    try:
        return int(raw)
    except ValueError:
        return None


def _cid(value: str) -> str | None:
    return None if value in ("", "<unknown>", "unknown") else value


def channel_payload(ev: Any) -> dict[str, Any]:
    """The common call fields of an event about a channel."""
    return {
        "uniqueid": header(ev, "Uniqueid"),
        "linkedid": header(ev, "Linkedid") or None,
        "channel": header(ev, "Channel"),
        "caller_number": _cid(header(ev, "CallerIDNum")),
        "caller_name": _cid(header(ev, "CallerIDName")),
    }


@dataclass
class Publish:
    """A domain event: ``outbox`` (transactional, call lifecycle) or direct (ephemeral state)."""

    stream: str
    type: str
    payload: dict[str, Any]
    outbox: bool = False


@dataclass
class Effect:
    """What one AMI event means for the call row with ``uniqueid`` and for the event streams."""

    uniqueid: str | None = None
    create: dict[str, Any] | None = None  # fields to create the call row with (get_or_create_call)
    update: dict[str, Any] = field(default_factory=dict)  # column -> value (always applied)
    fill: dict[str, Any] = field(default_factory=dict)  # column -> value (only when empty)
    data: dict[str, Any] = field(default_factory=dict)  # merged into Call.data
    end: bool = False  # the call ended: derive disposition / talk time
    publish: list[Publish] = field(default_factory=list)
    needs_call: bool = True  # only act when the uniqueid is a tracked call


def translate(ev: Any) -> Effect | None:
    """Map one AMI event to an :class:`Effect` (None: nothing to do)."""
    name = header(ev, "Event")
    ts = event_time(ev)
    base = channel_payload(ev)
    uid = base["uniqueid"]
    queue = header(ev, "Queue")

    if name == "UserEvent" and header(ev, "UserEvent") == USER_EVENT_CALL:
        direction = "out" if header(ev, "Direction") == "out" else "in"
        dialled = header(ev, "Dialled") or None
        create = {**base, "direction": direction, "dialled_number": dialled, "started_at": ts}
        create.pop("uniqueid")
        return Effect(
            uniqueid=uid,
            create=create,
            publish=[
                Publish(STREAM_CALLS, "call.new", {**base, "direction": direction, "dialled": dialled}, True)
            ],
            needs_call=False,
        )
    if name == "NewCallerid":
        return Effect(
            uniqueid=uid, fill={"caller_number": base["caller_number"], "caller_name": base["caller_name"]}
        )
    if name == "QueueCallerJoin":
        pos = _int(header(ev, "Position"))
        payload = {**base, "queue": queue, "position": pos, "count": _int(header(ev, "Count"))}
        return Effect(
            uniqueid=uid,
            update={"queue": queue, "queued_at": ts},
            publish=[
                Publish(STREAM_CALLS, "call.queued", payload, True),
                Publish(STREAM_QUEUES, "queue.caller_join", payload),
            ],
        )
    if name == "QueueCallerLeave":
        payload = {
            **base,
            "queue": queue,
            "position": _int(header(ev, "Position")),
            "count": _int(header(ev, "Count")),
        }
        return Effect(uniqueid=uid, publish=[Publish(STREAM_QUEUES, "queue.caller_leave", payload)])
    if name == "QueueCallerAbandon":
        wait = _num(header(ev, "HoldTime"))
        payload = {
            **base,
            "queue": queue,
            "position": _int(header(ev, "Position")),
            "original_position": _int(header(ev, "OriginalPosition")),
            "wait": wait,
        }
        return Effect(
            uniqueid=uid,
            update={"disposition": "abandoned", "wait_seconds": wait},
            publish=[
                Publish(STREAM_CALLS, "call.abandoned", payload, True),
                Publish(STREAM_QUEUES, "queue.caller_abandon", payload),
            ],
        )
    if name in ("AgentCalled", "AgentConnect", "AgentComplete", "AgentRingNoAnswer"):
        agent = header(ev, "MemberName") or header(ev, "Interface")
        payload = {
            **base,
            "queue": queue,
            "agent": agent,
            "interface": header(ev, "Interface"),
            "agent_channel": header(ev, "DestChannel"),
            "agent_uniqueid": header(ev, "DestUniqueid"),
        }
        if name == "AgentCalled":
            return Effect(uniqueid=uid, publish=[Publish(STREAM_AGENTS, "agent.called", payload)])
        if name == "AgentRingNoAnswer":
            payload["ring_time"] = _num(header(ev, "RingTime"))
            return Effect(uniqueid=uid, publish=[Publish(STREAM_AGENTS, "agent.ring_no_answer", payload)])
        if name == "AgentConnect":
            wait = _num(header(ev, "HoldTime"))
            payload.update({"wait": wait, "ring_time": _num(header(ev, "RingTime"))})
            return Effect(
                uniqueid=uid,
                update={"answered_at": ts, "agent": agent, "wait_seconds": wait, "disposition": "answered"},
                publish=[
                    Publish(STREAM_CALLS, "call.answered", payload, True),
                    Publish(STREAM_AGENTS, "agent.connect", payload),
                ],
            )
        talk = _num(header(ev, "TalkTime"))
        payload.update({"wait": _num(header(ev, "HoldTime")), "talk": talk, "reason": header(ev, "Reason")})
        return Effect(
            uniqueid=uid,
            update={"talk_seconds": talk},
            publish=[Publish(STREAM_AGENTS, "agent.complete", payload)],
        )
    if name in ("QueueMemberStatus", "QueueMemberAdded", "QueueMemberRemoved", "QueueMemberPause"):
        payload = member_payload(ev)
        payload["change"] = {
            "QueueMemberStatus": "status",
            "QueueMemberAdded": "added",
            "QueueMemberRemoved": "removed",
            "QueueMemberPause": "pause",
        }[name]
        type_ = "agent.paused" if name == "QueueMemberPause" else "agent.status"
        return Effect(publish=[Publish(STREAM_AGENTS, type_, payload)], needs_call=False)
    if name in ("MixMonitorStart", "MixMonitorStop"):
        recording = f"/var/spool/asterisk/monitor/{uid}.wav"
        eff = Effect(
            uniqueid=uid,
            publish=[
                Publish(
                    STREAM_CALLS,
                    "call.recording",
                    {**base, "state": name[10:].lower(), "recording": recording},
                )
            ],
        )
        if name == "MixMonitorStart":
            eff.fill["recording"] = recording
        return eff
    if name == "Hangup":
        cause = header(ev, "Cause-txt") or header(ev, "Cause")
        return Effect(
            uniqueid=uid,
            update={"ended_at": ts, "hangup_cause": cause},
            data={"hangup_cause_code": _int(header(ev, "Cause"))},
            end=True,
            publish=[Publish(STREAM_CALLS, "call.ended", {**base, "hangup_cause": cause}, True)],
        )
    if name == "Cdr":
        uid = header(ev, "UniqueID") or uid
        cdr = {
            k: header(ev, k)
            for k in (
                "Source",
                "Destination",
                "DestinationContext",
                "DestinationChannel",
                "LastApplication",
                "StartTime",
                "AnswerTime",
                "EndTime",
                "Duration",
                "BillableSeconds",
                "Disposition",
            )
        }
        return Effect(uniqueid=uid, data={"cdr": cdr})
    return None


def member_payload(ev: Any) -> dict[str, Any]:
    """A queue member (坐席) as published in agent events and snapshots."""
    paused = header(ev, "Paused")
    return {
        "queue": header(ev, "Queue"),
        "agent": header(ev, "MemberName") or header(ev, "Name") or header(ev, "Interface"),
        "interface": header(ev, "Interface") or header(ev, "Location") or header(ev, "StateInterface"),
        "status": _int(header(ev, "Status")),
        "in_call": header(ev, "InCall") == "1",
        "paused": paused == "1",
        "paused_reason": header(ev, "PausedReason") or header(ev, "Reason") or None,
        "calls_taken": _int(header(ev, "CallsTaken")),
        "membership": header(ev, "Membership") or None,
    }


def finish_call(
    answered_at: datetime | None,
    queued_at: datetime | None,
    ended_at: datetime,
    disposition: str | None,
    talk_seconds: float | None,
) -> tuple[str, float | None]:
    """Disposition and talk time of an ended call: answered / abandoned / ivr (never queued)."""
    if answered_at is not None:
        talk = (
            talk_seconds if talk_seconds is not None else max(0.0, (ended_at - answered_at).total_seconds())
        )
        return "answered", talk
    if disposition:
        return disposition, talk_seconds
    if queued_at is not None:
        return "abandoned", None
    return "ivr", None
