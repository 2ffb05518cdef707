"""The AMI bridge (AMI 桥接进程): the one process that owns the Asterisk Manager connection.

* Connects with panoramisk (with :class:`Utf8AMIProtocol`), waits for ``FullyBooted``, reconnects with
  exponential backoff after Asterisk dies or restarts, and then re-syncs: ``CoreShowChannels`` and
  ``QueueStatus`` rebuild the in-memory state, calls left open by a crash are closed in the database,
  and a ``queue.snapshot`` is published.
* Turns AMI events into call rows (``get_or_create_call``) and domain events (pure mapping in
  :mod:`callcenter.plugins.telephony.ami.events`). Call lifecycle events go through the transactional outbox;
  queue/agent state is published directly. All database work runs in one writer thread, in event
  order, so the asyncio loop never blocks.
* Executes commands from the application (Redis stream ``cc:commands:ami``, consumer group
  ``ami-bridge``), see :mod:`callcenter.plugins.telephony.commands`.

Multi-node: every Asterisk node has its own bridge (``node`` = the node's ``systemname``). The bridge
tags every call row it creates and every event it publishes with its node, re-syncs only its own
node's open calls, and reads its own command stream besides the shared one.

Health: Redis key ``cc:ami:bridge:{node}`` (JSON: node, connected, generation, pid, since), refreshed
every 5 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis
import redis.asyncio as aredis
from panoramisk import Manager
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from callcenter.db.base import utcnow
from callcenter.db.models import Call
from callcenter.db.session import get_sessionmaker
from callcenter.events import STREAM_CALLS, STREAM_QUEUES, OutboxRelay, enqueue, publish_now
from callcenter.observability import (
    AMI_CONNECTED,
    AMI_EVENTS,
    AMI_RECONNECTS,
    CALLS_ENDED,
    CALLS_STARTED,
    QUEUE_WAIT_SECONDS,
    count_on_commit,
)
from callcenter.plugins.telephony.ami import events as ev_map
from callcenter.plugins.telephony.ami.protocol import Utf8AMIProtocol
from callcenter.plugins.telephony.commands import CommandExecutor
from callcenter.services.calls import get_or_create_call

log = logging.getLogger(__name__)

HEALTH_KEY = "cc:ami:bridge"  # prefix; one key per node: see health_key()


def health_key(node: str) -> str:
    """The Redis key where the bridge of ``node`` reports its health."""
    return f"{HEALTH_KEY}:{node}"


@dataclass(frozen=True)
class AMIConfig:
    host: str = "127.0.0.1"
    port: int = 5038
    username: str = "callcenter"
    secret: str = ""
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 10.0
    ping_interval_s: int = 5


class BackoffManager(Manager):
    """panoramisk Manager whose reconnect delay grows exponentially and resets after a login."""

    def __init__(self, min_s: float, max_s: float, **config: Any) -> None:
        self._min_s = min_s
        self._max_s = max_s
        self._delay = min_s
        super().__init__(**config)

    @property
    def reconnect_timeout(self) -> float:  # read by panoramisk before each reconnect attempt
        delay = self._delay
        self._delay = min(self._max_s, self._delay * 2)
        return delay

    @reconnect_timeout.setter
    def reconnect_timeout(self, _value: float) -> None:
        self._delay = self._min_s

    def reset_backoff(self) -> None:
        self._delay = self._min_s

    def ping(self) -> None:  # pragma: no cover - timer callback
        self.pinger = self.loop.call_later(self.ping_interval, self.ping)
        if self.protocol is not None and not getattr(self.protocol, "closed", True):
            self.protocol.send({"Action": "Ping"})


class CallTracker:
    """Uniqueids of the calls this bridge follows (hotline/outbound legs with a call row)."""

    def __init__(self, recent: int = 5000) -> None:
        self.live: set[str] = set()
        self.recent: OrderedDict[str, None] = OrderedDict()
        self._max = recent

    def add(self, uid: str) -> None:
        self.live.add(uid)

    def end(self, uid: str) -> None:
        self.live.discard(uid)
        self.recent[uid] = None
        self.recent.move_to_end(uid)
        while len(self.recent) > self._max:
            self.recent.popitem(last=False)

    def known(self, uid: str) -> bool:
        return uid in self.live or uid in self.recent


class AMIBridge:
    """Run with ``await bridge.run(stop)``; see the module docstring."""

    def __init__(
        self,
        ami: AMIConfig,
        database_url: str,
        redis_url: str,
        *,
        default_queue: str = "hotline",
        stream_maxlen: int = 100_000,
        node: str = "pbx1",
    ) -> None:
        self.ami = ami
        self.node = node
        self.database_url = database_url
        self.redis_url = redis_url
        self.default_queue = default_queue
        self.maxlen = stream_maxlen
        self.tracker = CallTracker()
        self.channels: dict[str, dict[str, Any]] = {}
        self.generation = 0  # number of (re)connections that reached FullyBooted
        self.connected = asyncio.Event()
        self.synced = asyncio.Event()
        self.events_seen = 0
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ami-db")
        self._sessions = get_sessionmaker(database_url)
        self._redis = redis.Redis.from_url(redis_url, socket_timeout=2.0, socket_connect_timeout=2.0)
        self._relay = OutboxRelay(self._sessions, self._redis, maxlen=stream_maxlen)
        self.manager: BackoffManager | None = None
        self.commands: CommandExecutor | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._since: float | None = None
        self._bg: set[asyncio.Future[Any]] = set()

    # ------------------------------------------------------------------ lifecycle
    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        self._relay.start(interval_s=1.0)
        self.manager = BackoffManager(
            self.ami.reconnect_min_s,
            self.ami.reconnect_max_s,
            host=self.ami.host,
            port=self.ami.port,
            username=self.ami.username,
            secret=self.ami.secret,
            events="on",
            encoding="utf8",
            loop=loop,
            protocol_factory=Utf8AMIProtocol,
            ping_delay=self.ami.ping_interval_s,
            ping_interval=self.ami.ping_interval_s,
            on_disconnect=self._on_disconnect,
            log=logging.getLogger("callcenter.plugins.telephony.ami.panoramisk"),
        )
        self.manager.register_event("*", self._on_event)
        self.commands = CommandExecutor(
            self.manager,
            aredis.Redis.from_url(self.redis_url),
            self.connected,
            default_queue=self.default_queue,
            node=self.node,
            on_snapshot=self.publish_queue_snapshot,
        )
        self.manager.connect()
        self._tasks = [
            asyncio.create_task(self.commands.run(stop), name="ami-commands"),
            asyncio.create_task(self._health(stop), name="ami-health"),
        ]
        try:
            await stop.wait()
        finally:
            for t in self._tasks:
                t.cancel()
            for t in self._tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
            self.manager.close()
            if self.manager.pinger is not None:
                self.manager.pinger.cancel()
            # nothing must reconnect after close: drop the reconnect callback
            self.manager.connection_lost = lambda exc: None
            await loop.run_in_executor(self._writer, lambda: None)  # drain queued DB work
            self._writer.shutdown(wait=True)
            self._relay.stop()
            with contextlib.suppress(Exception):
                self._relay.flush()
            with contextlib.suppress(redis.RedisError):
                self._redis.delete(health_key(self.node))
            self._redis.close()

    def _on_disconnect(self, _manager: Any, exc: Any) -> None:
        if self.connected.is_set():
            log.warning("AMI connection lost (%s); reconnecting with backoff", exc)
        self.connected.clear()
        self.synced.clear()
        AMI_CONNECTED.set(0)

    async def _health(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            info = {
                "node": self.node,
                "connected": self.connected.is_set(),
                "synced": self.synced.is_set(),
                "generation": self.generation,
                "pid": os.getpid(),
                "since": self._since,
                "events": self.events_seen,
                "tracked_calls": len(self.tracker.live),
            }
            with contextlib.suppress(redis.RedisError):
                await asyncio.to_thread(self._redis.set, health_key(self.node), json.dumps(info), ex=15)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), 5)

    # ------------------------------------------------------------------ events
    def _on_event(self, _manager: Any, event: Any) -> None:
        self.events_seen += 1
        name = event.get("Event", "")
        AMI_EVENTS.labels(event=str(name or "response")[:64]).inc()
        if name == "FullyBooted":
            if not self.connected.is_set():
                self.connected.set()
                self.generation += 1
                AMI_CONNECTED.set(1)
                if self.generation > 1:
                    AMI_RECONNECTS.inc()
                self._since = time.time()
                assert self.manager is not None
                self.manager.reset_backoff()
                log.info("AMI FullyBooted (connection #%d): re-syncing", self.generation)
                task = asyncio.ensure_future(self._resync())
                self._bg.add(task)
                task.add_done_callback(self._bg.discard)
            return
        if name == "Newchannel":
            self.channels[ev_map.header(event, "Uniqueid")] = ev_map.channel_payload(event)
        elif name == "Hangup":
            self.channels.pop(ev_map.header(event, "Uniqueid"), None)
        effect = ev_map.translate(event)
        if effect is None:
            return
        if effect.needs_call and effect.uniqueid is not None and not self.tracker.known(effect.uniqueid):
            return
        if effect.create is not None and effect.uniqueid:
            if effect.uniqueid not in self.tracker.live:
                CALLS_STARTED.labels(direction=str(effect.create.get("direction") or "in")).inc()
            self.tracker.add(effect.uniqueid)
        if effect.end and effect.uniqueid:
            self.tracker.end(effect.uniqueid)
        loop = asyncio.get_running_loop()
        fut = loop.run_in_executor(self._writer, self._apply, effect)
        fut.add_done_callback(_log_failure)

    def _apply(self, effect: ev_map.Effect) -> None:
        """Writer thread: apply an effect to the call row and publish its events."""
        for p in effect.publish:
            p.payload = {**p.payload, "node": self.node}
            wait = p.payload.get("wait")
            if p.type in ("agent.connect", "queue.caller_abandon") and isinstance(wait, int | float):
                QUEUE_WAIT_SECONDS.labels(queue=str(p.payload.get("queue") or self.default_queue)).observe(
                    wait
                )
        outbox = [p for p in effect.publish if p.outbox]
        direct = [p for p in effect.publish if not p.outbox]
        if effect.uniqueid and (
            effect.create is not None or effect.update or effect.fill or effect.data or outbox
        ):
            try:
                with self._sessions() as session, session.begin():
                    self._apply_db(session, effect, outbox)
                self._relay.notify()
            except Exception:
                log.exception("bridge: database update for %s failed", effect.uniqueid)
        for p in direct:
            self._publish(p.stream, p.type, p.payload)

    def _apply_db(self, session: Session, effect: ev_map.Effect, outbox: list[ev_map.Publish]) -> None:
        uid = effect.uniqueid
        assert uid is not None
        if effect.create is not None:
            call: Call | None = get_or_create_call(session, uid, **{**effect.create, "node": self.node})
        else:
            q = select(Call).where(Call.uniqueid == uid)
            if session.get_bind().dialect.name == "postgresql":
                q = q.with_for_update()
            call = session.scalar(q)
        if call is None:
            return
        for k, v in effect.fill.items():
            if v is not None and getattr(call, k) in (None, ""):
                setattr(call, k, v)
        for k, v in effect.update.items():
            if k == "disposition" and call.disposition == "answered":
                continue
            setattr(call, k, v)
        if effect.data:
            call.data = {**(call.data or {}), **effect.data}
        if effect.end and call.ended_at is not None:
            call.disposition, call.talk_seconds = ev_map.finish_call(
                call.answered_at, call.queued_at, call.ended_at, call.disposition, call.talk_seconds
            )
            count_on_commit(
                session,
                CALLS_ENDED.labels(direction=call.direction, disposition=call.disposition or "unknown"),
            )
        session.flush()
        for p in outbox:
            payload = {**p.payload, "call_id": call.id}
            if effect.end:
                payload.update(
                    {
                        "dialled": call.dialled_number,
                        "queue": call.queue,
                        "agent": call.agent,
                        "answered": call.answered_at is not None,
                        "wait": call.wait_seconds,
                        "talk": call.talk_seconds,
                        "disposition": call.disposition,
                        "ivr_choice": call.ivr_choice,
                    }
                )
            enqueue(session, p.stream, p.type, payload)

    def _publish(self, stream: str, type_: str, payload: dict[str, Any]) -> None:
        try:
            publish_now(self._redis, stream, type_, payload, maxlen=self.maxlen)
        except redis.RedisError as exc:
            log.warning("bridge: redis unavailable, %s dropped: %s", type_, exc)

    # ------------------------------------------------------------------ re-sync
    async def _resync(self) -> None:
        """After (re)connecting: rebuild channels and queue state, close calls lost in a crash."""
        assert self.manager is not None
        try:
            channels = await self._list("CoreShowChannels")
            queue_events = await self._list("QueueStatus")
        except Exception:
            log.exception("bridge: re-sync failed; will retry on the next connection")
            return
        self.channels = {
            ev_map.header(c, "Uniqueid"): ev_map.channel_payload(c)
            for c in channels
            if ev_map.header(c, "Event") == "CoreShowChannel"
        }
        live = set(self.channels)
        snapshot = queue_snapshot(queue_events)
        snapshot.update({"node": self.node, "generation": self.generation, "channels": len(live)})
        loop = asyncio.get_running_loop()
        adopted, closed = await loop.run_in_executor(self._writer, self._reconcile, live)
        for uid in adopted:
            self.tracker.add(uid)
        for uid in closed:
            self.tracker.end(uid)
        snapshot["closed_calls"] = len(closed)
        snapshot["adopted_calls"] = len(adopted)
        await loop.run_in_executor(self._writer, self._publish, STREAM_QUEUES, "queue.snapshot", snapshot)
        self.synced.set()
        log.info(
            "bridge: re-synced (%d channels, %d queues, %d calls closed, %d adopted)",
            len(live),
            len(snapshot["queues"]),
            len(closed),
            len(adopted),
        )

    async def publish_queue_snapshot(self) -> dict[str, Any]:
        """Re-read ``QueueStatus`` and publish a ``queue.snapshot`` (the ``queue_snapshot`` command).

        The console asks for it when its API process starts (its wallboard was rebuilt from today's
        events only: members who joined before midnight, or who vanished in an Asterisk restart the
        process did not see, would be wrong) and when a queue command fails because its view was stale.
        """
        queue_events = await self._list("QueueStatus")
        snapshot = queue_snapshot(queue_events)
        snapshot.update({"node": self.node, "generation": self.generation, "reason": "requested"})
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._writer, self._publish, STREAM_QUEUES, "queue.snapshot", snapshot)
        members = sum(len(q["members"]) for q in snapshot["queues"])
        return {"queues": len(snapshot["queues"]), "members": members}

    async def _list(self, action: str) -> list[Any]:
        assert self.manager is not None
        res = await asyncio.wait_for(self.manager.send_action({"Action": action}, as_list=True), 15)
        return list(res) if isinstance(res, list) else [res]

    def _reconcile(self, live: set[str]) -> tuple[list[str], list[str]]:
        """Writer thread: this node's open call rows vs. its live channels.

        Rows of other nodes are never touched (their own bridges own them); rows without a node come
        from an Asterisk without ``systemname`` and are treated as this node's.
        """
        adopted: list[str] = []
        closed: list[str] = []
        now = utcnow()
        mine = or_(Call.node == self.node, Call.node.is_(None))
        with self._sessions() as session, session.begin():
            open_calls = list(session.scalars(select(Call).where(Call.ended_at.is_(None), mine)))
            for call in open_calls:
                if call.uniqueid in live:
                    adopted.append(call.uniqueid)
                    continue
                call.ended_at = now
                call.hangup_cause = call.hangup_cause or "lost (Asterisk restarted)"
                call.disposition, call.talk_seconds = ev_map.finish_call(
                    call.answered_at, call.queued_at, now, call.disposition, call.talk_seconds
                )
                call.data = {**(call.data or {}), "closed_by_resync": True}
                closed.append(call.uniqueid)
                enqueue(
                    session,
                    STREAM_CALLS,
                    "call.ended",
                    {
                        "uniqueid": call.uniqueid,
                        "linkedid": call.linkedid,
                        "call_id": call.id,
                        "channel": call.channel,
                        "dialled": call.dialled_number,
                        "caller_number": call.caller_number,
                        "caller_name": call.caller_name,
                        "queue": call.queue,
                        "agent": call.agent,
                        "answered": call.answered_at is not None,
                        "wait": call.wait_seconds,
                        "talk": call.talk_seconds,
                        "disposition": call.disposition,
                        "ivr_choice": call.ivr_choice,
                        "hangup_cause": call.hangup_cause,
                        "node": self.node,
                        "resync": True,
                    },
                )
        if closed:
            self._relay.notify()
        return adopted, closed


def queue_snapshot(events: list[Any]) -> dict[str, Any]:
    """``queue.snapshot`` payload from the events of a ``QueueStatus`` action."""
    queues: dict[str, dict[str, Any]] = {}
    for e in events:
        name = ev_map.header(e, "Event")
        q = ev_map.header(e, "Queue")
        if not q:
            continue
        entry = queues.setdefault(q, {"queue": q, "members": [], "callers": []})
        if name == "QueueParams":
            entry.update(
                {
                    "strategy": ev_map.header(e, "Strategy"),
                    "calls": int(ev_map.header(e, "Calls") or 0),
                    "holdtime": float(ev_map.header(e, "Holdtime") or 0),
                    "talktime": float(ev_map.header(e, "TalkTime") or 0),
                    "completed": int(ev_map.header(e, "Completed") or 0),
                    "abandoned": int(ev_map.header(e, "Abandoned") or 0),
                }
            )
        elif name == "QueueMember":
            entry["members"].append(ev_map.member_payload(e))
        elif name == "QueueEntry":
            entry["callers"].append(
                {
                    **ev_map.channel_payload(e),
                    "position": int(ev_map.header(e, "Position") or 0),
                    "wait": float(ev_map.header(e, "Wait") or 0),
                }
            )
    return {"queues": list(queues.values()), "ts": datetime.now(UTC).isoformat()}


def _log_failure(fut: Any) -> None:
    exc = fut.exception()
    if exc is not None:  # pragma: no cover - _apply catches its own errors
        log.error("bridge writer failed: %r", exc)


def run_bridge(
    ami: AMIConfig,
    database_url: str,
    redis_url: str,
    *,
    default_queue: str = "hotline",
    node: str = "pbx1",
    stop_factory: Callable[[], asyncio.Event] | None = None,
) -> None:
    """Blocking entry point for ``callcenter ami-bridge`` (stops on SIGINT/SIGTERM)."""
    import signal

    async def main() -> None:
        stop = stop_factory() if stop_factory else asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        bridge = AMIBridge(ami, database_url, redis_url, default_queue=default_queue, node=node)
        await bridge.run(stop)

    asyncio.run(main())
