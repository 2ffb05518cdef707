"""Supervisor wallboard state (班长监控大屏) folded from the live events — pure, no I/O.

Only what Asterisk reported counts: callers waiting come from ``queue.caller_join`` /
``queue.caller_leave`` / ``queue.caller_abandon``, agent states from ``agent.status`` /
``agent.paused`` (QueueMemberStatus / QueueMemberPause) and ``agent.called`` / ``agent.connect`` /
``agent.complete``; a ``queue.snapshot`` (the AMI bridge's re-sync after a (re)connect) replaces the
live part. Counters (offered, answered, answered within the service level, abandoned, handled) are per
local day and reset at midnight.

Per queue: waiting callers (with their join time, so the screen shows the longest wait ticking),
SLA % = answered within ``sla_seconds`` ÷ answered, abandoned % = abandoned ÷ (answered + abandoned),
handled = completed agent calls. Per agent: state and the time it entered it.

Several Asterisk nodes (多节点): every event carries the ``node`` of the bridge that saw it. A queue
name is one logical queue across nodes (its counters add up; ``by_node`` splits the waiting callers);
agents are keyed by node and interface (extension 8001 may exist on two nodes); a node's
``queue.snapshot`` replaces only that node's callers and agents.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

#: Asterisk device states (ast_device_state) as in QueueMemberStatus ``Status``.
DEVICE_STATES = {
    0: "unknown",
    1: "not_inuse",
    2: "inuse",
    3: "busy",
    4: "invalid",
    5: "unavailable",
    6: "ringing",
    7: "ringinuse",
    8: "onhold",
}

#: Agent states shown on the board (labels in the UI's zh-CN.json under ``agent_state.*``).
AGENT_STATES = ("idle", "ringing", "talking", "wrapup", "paused", "offline")


def parse_ts(raw: Any) -> datetime:
    """An event's ISO timestamp (aware, UTC when no zone), or now when missing/bad."""
    if isinstance(raw, datetime):
        return raw if raw.tzinfo else raw.replace(tzinfo=UTC)
    try:
        ts = datetime.fromisoformat(str(raw))
    except (TypeError, ValueError):
        return datetime.now(UTC)
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


@dataclass
class QueueStats:
    """One queue's live callers and today's counters."""

    name: str
    waiting: dict[str, dict[str, Any]] = field(default_factory=dict)  # uniqueid -> caller
    offered: int = 0
    answered: int = 0
    answered_in_sla: int = 0
    abandoned: int = 0
    handled: int = 0

    def as_dict(self, sla_seconds: float) -> dict[str, Any]:
        callers = sorted(self.waiting.values(), key=lambda c: c["since"])
        finished = self.answered + self.abandoned
        by_node: dict[str, int] = {}
        for c in callers:
            key = c.get("node") or ""
            by_node[key] = by_node.get(key, 0) + 1
        return {
            "queue": self.name,
            "waiting": len(callers),
            "by_node": by_node,
            "callers": callers,
            "longest_wait_since": callers[0]["since"] if callers else None,
            "offered": self.offered,
            "answered": self.answered,
            "answered_in_sla": self.answered_in_sla,
            "sla_seconds": sla_seconds,
            "sla_pct": None if self.answered == 0 else round(100.0 * self.answered_in_sla / self.answered, 1),
            "abandoned": self.abandoned,
            "abandoned_pct": None if finished == 0 else round(100.0 * self.abandoned / finished, 1),
            "handled": self.handled,
        }


@dataclass
class AgentState:
    """One queue member (坐席) as Asterisk reports it."""

    interface: str
    name: str
    node: str | None = None
    queues: set[str] = field(default_factory=set)
    device: int | None = None
    paused: bool = False
    paused_reason: str | None = None
    ringing: bool = False
    in_call: bool = False
    wrapup: bool = False
    wrapup_until: str | None = None
    uniqueid: str | None = None
    channel: str | None = None
    calls_taken: int = 0
    state: str = "idle"
    since: str = ""

    def derive(self) -> str:
        if self.device in (4, 5):
            return "offline"
        if self.paused:
            return "paused"
        if self.in_call or self.device in (2, 3, 8):
            return "talking"
        if self.ringing or self.device in (6, 7):
            return "ringing"
        if self.wrapup:
            return "wrapup"
        return "idle"

    def as_dict(self) -> dict[str, Any]:
        return {
            "interface": self.interface,
            "name": self.name,
            "node": self.node,
            "queues": sorted(self.queues),
            "state": self.state,
            "since": self.since,
            "device": DEVICE_STATES.get(self.device or 0, "unknown") if self.device is not None else None,
            "paused": self.paused,
            "paused_reason": self.paused_reason,
            "wrapup_until": self.wrapup_until if self.state == "wrapup" else None,
            "uniqueid": self.uniqueid,
            "channel": self.channel,
            "calls_taken": self.calls_taken,
        }


class Wallboard:
    """Fold events with :meth:`apply`; read with :meth:`snapshot`."""

    def __init__(self, tz: tzinfo, sla_seconds: float = 20.0, wrapup_seconds: float = 2.0) -> None:
        self.tz = tz
        self.sla_seconds = sla_seconds
        self.wrapup_seconds = wrapup_seconds
        self.queues: dict[str, QueueStats] = {}
        self.agents: dict[str, AgentState] = {}  # key: see _akey
        self.nodes: dict[str, str] = {}  # node -> time of its last event
        self.day: str | None = None
        self.version = 0
        #: Cases received today per intake source (来源, callcenter.domain.sources), from case.create.
        self.cases_by_source: dict[str, int] = {}

    # -------------------------------------------------------------- helpers
    def _queue(self, name: str | None) -> QueueStats:
        key = name or "hotline"
        if key not in self.queues:
            self.queues[key] = QueueStats(key)
        return self.queues[key]

    @staticmethod
    def _akey(node: Any, interface: str) -> str:
        """Agents are keyed by node and interface; events without a node by interface alone."""
        return f"{node}|{interface}" if node else interface

    def _agent(self, interface: str, name: str | None = None, node: str | None = None) -> AgentState:
        key = self._akey(node, interface)
        a = self.agents.get(key)
        if a is None:
            a = AgentState(interface=interface, name=name or interface, node=node)
            self.agents[key] = a
        elif name:
            a.name = name
        return a

    def _find_agent(self, data: dict[str, Any]) -> AgentState | None:
        iface = str(data.get("interface") or "")
        node = data.get("node") or None
        key = self._akey(node, iface)
        if iface and key in self.agents:
            return self.agents[key]
        name = str(data.get("agent") or "")
        for a in self.agents.values():
            if name and a.node == node and (a.name == name or a.interface == name):
                return a
        return self._agent(iface, name or None, node) if iface else None

    def _touch(self, agent: AgentState, ts: datetime) -> None:
        new = agent.derive()
        if new != agent.state or not agent.since:
            agent.state = new
            agent.since = ts.isoformat()

    def _roll_day(self, ts: datetime) -> None:
        day = ts.astimezone(self.tz).date().isoformat()
        if self.day is None:
            self.day = day
        elif day > self.day:
            self.day = day
            for q in self.queues.values():
                q.offered = q.answered = q.answered_in_sla = q.abandoned = q.handled = 0
            for a in self.agents.values():
                a.calls_taken = 0
            self.cases_by_source = {}

    # -------------------------------------------------------------- folding
    def apply(self, type_: str, data: dict[str, Any], ts_raw: Any = None) -> bool:
        """Fold one event; returns True when the board changed."""
        ts = parse_ts(ts_raw)
        handler = _HANDLERS.get(type_)
        if handler is None:
            return False
        if data.get("node"):
            self.nodes[str(data["node"])] = ts.isoformat()
        self._roll_day(ts)
        handler(self, data, ts)
        self.version += 1
        return True

    def _caller_join(self, d: dict[str, Any], ts: datetime) -> None:
        q = self._queue(d.get("queue"))
        uid = str(d.get("uniqueid") or "")
        if uid and uid not in q.waiting:
            q.offered += 1
        if uid:
            q.waiting[uid] = {
                "uniqueid": uid,
                "caller_number": d.get("caller_number"),
                "caller_name": d.get("caller_name"),
                "position": d.get("position"),
                "since": ts.isoformat(),
                "node": d.get("node"),
            }

    def _caller_leave(self, d: dict[str, Any], ts: datetime) -> None:
        self._queue(d.get("queue")).waiting.pop(str(d.get("uniqueid") or ""), None)

    def _caller_abandon(self, d: dict[str, Any], ts: datetime) -> None:
        q = self._queue(d.get("queue"))
        q.waiting.pop(str(d.get("uniqueid") or ""), None)
        q.abandoned += 1

    def _agent_called(self, d: dict[str, Any], ts: datetime) -> None:
        a = self._find_agent(d)
        if a is None:
            return
        a.ringing = True
        a.wrapup = False
        a.uniqueid = str(d.get("uniqueid") or "") or None
        self._touch(a, ts)

    def _agent_ring_no_answer(self, d: dict[str, Any], ts: datetime) -> None:
        a = self._find_agent(d)
        if a is None:
            return
        a.ringing = False
        self._touch(a, ts)

    def _agent_connect(self, d: dict[str, Any], ts: datetime) -> None:
        q = self._queue(d.get("queue"))
        q.waiting.pop(str(d.get("uniqueid") or ""), None)
        q.answered += 1
        wait = d.get("wait")
        if isinstance(wait, int | float) and wait <= self.sla_seconds:
            q.answered_in_sla += 1
        a = self._find_agent(d)
        if a is None:
            return
        a.ringing = False
        a.in_call = True
        a.wrapup = False
        a.uniqueid = str(d.get("uniqueid") or "") or None
        a.channel = str(d.get("agent_channel") or "") or None
        self._touch(a, ts)

    def _agent_complete(self, d: dict[str, Any], ts: datetime) -> None:
        self._queue(d.get("queue")).handled += 1
        a = self._find_agent(d)
        if a is None:
            return
        a.in_call = False
        a.wrapup = True
        a.wrapup_until = (ts + timedelta(seconds=self.wrapup_seconds)).isoformat()
        a.calls_taken += 1
        a.channel = None
        if a.device in (2, 3, 8):
            a.device = 1  # the call is over; Asterisk's next QueueMemberStatus confirms
        self._touch(a, ts)

    def _member(self, d: dict[str, Any], ts: datetime) -> None:
        iface = str(d.get("interface") or "")
        if not iface:
            return
        change = d.get("change")
        node = d.get("node") or None
        key = self._akey(node, iface)
        if change == "removed":
            a = self.agents.get(key)
            if a is not None:
                a.queues.discard(str(d.get("queue") or ""))
                if not a.queues:
                    del self.agents[key]
            return
        a = self._agent(iface, str(d.get("agent") or "") or None, node)
        if d.get("queue"):
            a.queues.add(str(d["queue"]))
        if d.get("status") is not None:
            a.device = int(d["status"])
            if a.device == 1:
                a.ringing = False
                a.in_call = bool(d.get("in_call"))
            elif a.device in (6, 7):
                a.ringing = True
        if "paused" in d:
            was = a.paused
            a.paused = bool(d.get("paused"))
            a.paused_reason = (d.get("paused_reason") or None) if a.paused else None
            if a.paused and not was:
                a.wrapup = False
        if d.get("calls_taken") is not None:
            a.calls_taken = max(a.calls_taken, int(d["calls_taken"]))
        self._touch(a, ts)

    def _snapshot(self, d: dict[str, Any], ts: datetime) -> None:
        """A node's re-sync: replaces that node's waiting callers and agents (others are kept)."""
        node = d.get("node") or None
        seen: set[str] = set()
        for qd in d.get("queues") or []:
            q = self._queue(qd.get("queue"))
            old = q.waiting
            q.waiting = {uid: c for uid, c in old.items() if (c.get("node") or None) != node}
            for c in qd.get("callers") or []:
                uid = str(c.get("uniqueid") or "")
                if not uid:
                    continue
                since = old[uid]["since"] if uid in old else ts.isoformat()
                q.waiting[uid] = {
                    "uniqueid": uid,
                    "caller_number": c.get("caller_number"),
                    "caller_name": c.get("caller_name"),
                    "position": c.get("position"),
                    "since": since,
                    "node": node,
                }
            for m in qd.get("members") or []:
                iface = str(m.get("interface") or "")
                if not iface:
                    continue
                key = self._akey(node, iface)
                if key not in seen and key in self.agents:
                    # Asterisk's word replaces what the board had folded (a call, a ring or a wrap-up
                    # whose end was lost in a restart must not linger as a phantom 通话中)
                    a = self.agents[key]
                    a.queues = set()
                    a.ringing = a.wrapup = False
                    a.in_call = bool(m.get("in_call"))
                    if not a.in_call:
                        a.uniqueid = a.channel = None
                seen.add(key)
                self._member({**m, "change": "status", "node": node}, ts)
        for key, agent in list(self.agents.items()):
            if (agent.node or None) == node and key not in seen:
                del self.agents[key]

    # -------------------------------------------------------------- reading
    def snapshot(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "day": self.day,
            "sla_seconds": self.sla_seconds,
            "wrapup_seconds": self.wrapup_seconds,
            "queues": [
                q.as_dict(self.sla_seconds) for q in sorted(self.queues.values(), key=lambda q: q.name)
            ],
            "agents": [
                a.as_dict() for a in sorted(self.agents.values(), key=lambda a: (a.name, a.node or ""))
            ],
            "nodes": [{"node": n, "last_event": t} for n, t in sorted(self.nodes.items())],
            "cases_by_source": dict(sorted(self.cases_by_source.items(), key=lambda kv: (-kv[1], kv[0]))),
        }

    def agent(self, interface: str, node: str | None = None) -> dict[str, Any] | None:
        """One agent by interface (on ``node`` when given, else on whichever node has it)."""
        a = self.agents.get(self._akey(node, interface))
        if a is None and node is None:
            a = next((x for x in self.agents.values() if x.interface == interface), None)
        return None if a is None else a.as_dict()


def _case_create(board: Wallboard, d: dict[str, Any], ts: datetime) -> None:
    source = str(d.get("channel") or "phone")
    board.cases_by_source[source] = board.cases_by_source.get(source, 0) + 1


_HANDLERS = {
    "case.create": _case_create,
    "queue.caller_join": Wallboard._caller_join,
    "queue.caller_leave": Wallboard._caller_leave,
    "queue.caller_abandon": Wallboard._caller_abandon,
    "queue.snapshot": Wallboard._snapshot,
    "agent.called": Wallboard._agent_called,
    "agent.ring_no_answer": Wallboard._agent_ring_no_answer,
    "agent.connect": Wallboard._agent_connect,
    "agent.complete": Wallboard._agent_complete,
    "agent.status": Wallboard._member,
    "agent.paused": Wallboard._member,
}
