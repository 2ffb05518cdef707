"""Live event fan-out (实时推送): one Redis reader per API process, many browser connections.

:class:`Hub` reads the domain event streams with one blocking ``XREAD`` loop, folds queue and agent
events into the :class:`~callcenter.plugins.console.wallboard.Wallboard`, and pushes every event to the
connected
consoles (Server-Sent Events). Each event's SSE ``id`` is a *cursor*: the hub's position in every
stream after that event (``K:1732-0,C:1731-5,...``). A browser that reconnects sends it back as
``Last-Event-ID`` and gets exactly the entries it missed (``XRANGE`` from each position, exclusive),
then the live ones — nothing lost, nothing twice.

Per connection the events are filtered by role: a unit handler (承办单位) sees only case events of its
own unit (the kernel's visibility rule); phone numbers, names and numbers in free text are masked for
roles that must not see them (the kernel's privacy rule). A connection that cannot keep up (its buffer
of :data:`BUFFER` messages is full) is closed; the browser reconnects and catches up from its cursor.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from datetime import time as dtime
from typing import Any
from zoneinfo import ZoneInfo

import redis.asyncio as aredis

from callcenter import events as ev
from callcenter.domain.access import CENTER_ROLES, may_see_case
from callcenter.domain.privacy import payload_for_role

from .guard import StreamGuard
from .wallboard import Wallboard

log = logging.getLogger(__name__)

#: Streams the consoles follow, with their short cursor keys.
STREAM_KEYS: dict[str, str] = {
    ev.STREAM_CASES: "K",
    ev.STREAM_CALLS: "C",
    ev.STREAM_QUEUES: "Q",
    ev.STREAM_AGENTS: "A",
    ev.STREAM_SUGGESTIONS: "S",
    ev.STREAM_TRANSCRIPTS: "T",
    ev.STREAM_CALLBACKS: "B",
}
KEY_STREAMS = {v: k for k, v in STREAM_KEYS.items()}
WALLBOARD_STREAMS = (ev.STREAM_QUEUES, ev.STREAM_AGENTS, ev.STREAM_CASES)  # cases: today's volume by source
BUFFER = 2000
HEARTBEAT_S = 15.0


class CursorError(ValueError):
    """A ``Last-Event-ID`` that is not a cursor of this hub."""


def _id_key(entry_id: str) -> tuple[int, ...]:
    """Sort key of a stream entry id (``ms-seq``); ids of one Redis server order across streams."""
    return tuple(int(x) for x in entry_id.split("-"))


def _valid_id(entry_id: str) -> bool:
    ms, _, seq = entry_id.partition("-")
    return ms.isdigit() and (seq == "" or seq.isdigit())


def encode_cursor(positions: dict[str, str]) -> str:
    """``{stream: entry_id}`` → ``K:1-0,C:2-0`` (only the streams the hub follows)."""
    return ",".join(f"{STREAM_KEYS[s]}:{i}" for s, i in positions.items() if s in STREAM_KEYS)


def decode_cursor(raw: str) -> dict[str, str]:
    """Inverse of :func:`encode_cursor`; raises :class:`CursorError` on anything else."""
    out: dict[str, str] = {}
    if len(raw) > 1000:
        raise CursorError("cursor too long")
    for part in raw.split(","):
        key, sep, entry_id = part.strip().partition(":")
        if not sep or key not in KEY_STREAMS or not _valid_id(entry_id):
            raise CursorError(f"bad cursor part {part!r}")
        out[KEY_STREAMS[key]] = entry_id
    return out


@dataclass(frozen=True)
class Event:
    """One stream entry as the consoles see it."""

    stream: str
    id: str
    type: str
    data: dict[str, Any]
    ts: str | None
    cursor: str = ""

    def message(self, role: str) -> dict[str, Any]:
        """The event as ``role`` may see it: phones, names and numbers in free text masked for roles
        that need not see them (:func:`callcenter.domain.privacy.payload_for_role`)."""
        return {
            "stream": STREAM_KEYS.get(self.stream, self.stream),
            "id": self.id,
            "type": self.type,
            "data": payload_for_role(self.data, role),
            "ts": self.ts,
        }


def visible(event: Event, role: str, unit_code: str | None) -> bool:
    """May a user of ``role`` (and unit) see ``event``? Center staff see every stream; anyone else only
    case events of cases they may see (the kernel's rule, :func:`callcenter.domain.access.may_see_case`,
    on the event's ``unit_code`` and ``co_unit_codes``)."""
    if role in CENTER_ROLES:
        return True
    if event.stream != ev.STREAM_CASES:
        return False
    d = event.data
    co_units = d.get("co_unit_codes")
    return may_see_case(role, unit_code, d.get("unit_code"), co_units if isinstance(co_units, list) else ())


def sse(data: str, *, id_: str | None = None, event: str | None = None) -> str:
    """One Server-Sent Events message."""
    lines = []
    if id_:
        lines.append(f"id: {id_}")
    if event:
        lines.append(f"event: {event}")
    lines.extend(f"data: {line}" for line in data.split("\n"))
    return "\n".join(lines) + "\n\n"


@dataclass(eq=False)
class Subscriber:
    role: str
    unit_code: str | None
    wallboard: bool
    queue: asyncio.Queue[str | None] = field(default_factory=lambda: asyncio.Queue(BUFFER))
    overflowed: bool = False
    _cache_key: str = ""

    def push(self, text: str | None) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            self.overflowed = True
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
            self.queue.put_nowait(None)  # end of stream: the browser reconnects with its cursor


class Hub:
    """One per process. ``await hub.start()`` (idempotent) then :meth:`stream` per connection."""

    def __init__(
        self,
        redis_url: str,
        *,
        tz: str = "Asia/Shanghai",
        sla_seconds: float = 20.0,
        wrapup_seconds: float = 2.0,
        block_ms: int = 1000,
        nodes: tuple[str, ...] = (),
    ) -> None:
        self.redis_url = redis_url
        #: Asterisk nodes asked for a fresh ``queue.snapshot`` when the hub starts (with those seen today)
        self.nodes = nodes
        self.tz = ZoneInfo(tz)
        self.wallboard = Wallboard(self.tz, sla_seconds, wrapup_seconds)
        self.block_ms = block_ms
        self.positions: dict[str, str] = {}
        self.subscribers: set[Subscriber] = set()
        self.events_read = 0
        self.started = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._redis: aredis.Redis | None = None
        self._wallboard_dirty = False
        self.last_error: str | None = None

    # ------------------------------------------------------------------ lifecycle
    def client(self) -> Any:  # redis.asyncio.Redis (its stubs type stream replies too loosely)
        if self._redis is None:
            self._redis = aredis.Redis.from_url(
                self.redis_url, socket_connect_timeout=2.0, socket_timeout=None
            )
        return self._redis

    async def start(self) -> None:
        async with self._lock:
            if self._task is not None and not self._task.done():
                return
            self._task = asyncio.create_task(self._run(), name="console-hub")
        await asyncio.wait_for(self.started.wait(), 10)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        for sub in list(self.subscribers):
            sub.push(None)
        if self._redis is not None:
            with contextlib.suppress(Exception):
                await self._redis.aclose()
            self._redis = None
        self.started.clear()

    async def _bootstrap(self) -> None:
        """Positions = the end of each stream now; the wallboard = today's events replayed."""
        r = self.client()
        midnight = datetime.combine(datetime.now(self.tz).date(), dtime.min, self.tz)
        start_id = f"{int(midnight.timestamp() * 1000)}-0"
        for stream in STREAM_KEYS:
            last = await r.xrevrange(stream, count=1)
            self.positions[stream] = ev.as_text(last[0][0]) if last else "0-0"
        # the queue and agent streams are replayed merged in entry order: a queue.snapshot (queues
        # stream) must come after the agent events (agents stream) it supersedes, or an agent whose
        # call ended in an Asterisk restart comes back as a phantom 通话中
        collected: list[tuple[tuple[int, ...], dict[Any, Any]]] = []
        for stream in WALLBOARD_STREAMS:
            lo = start_id
            end = self.positions[stream]
            if end == "0-0":
                continue
            while True:
                batch = await r.xrange(stream, min=lo, max=end, count=1000)
                collected.extend((_id_key(ev.as_text(i)), fields) for i, fields in batch)
                if len(batch) < 1000:
                    break
                lo = "(" + ev.as_text(batch[-1][0])
        collected.sort(key=lambda t: t[0])
        for _key, fields in collected:
            try:
                d = ev.decode(fields)
            except (ValueError, TypeError):
                continue
            self.wallboard.apply(d["type"], d["data"] if isinstance(d["data"], dict) else {}, d["ts"])

    async def _run(self) -> None:
        backoff = 0.5
        while True:
            try:
                if not self.started.is_set():
                    await self._bootstrap()
                    self.started.set()
                    self.last_error = None
                    await self.request_snapshots()
                resp = await self.client().xread(dict(self.positions), count=500, block=self.block_ms)
                backoff = 0.5
                batch = [
                    (ev.as_text(stream_raw), ev.as_text(entry_id_raw), fields)
                    for stream_raw, entries in resp or []
                    for entry_id_raw, fields in entries
                ]
                batch.sort(key=lambda t: _id_key(t[1]))  # one order across the streams of a batch
                for stream, entry_id, fields in batch:
                    self._dispatch(stream, entry_id, fields)
                self._flush_wallboard()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis outage: keep the connections, retry with backoff
                self.last_error = f"{exc.__class__.__name__}: {exc}"
                log.warning("console hub: %s; retrying in %.1f s", self.last_error, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    async def request_snapshots(self, nodes: tuple[str, ...] | None = None) -> list[str]:
        """Ask the AMI bridge of each node for a fresh ``queue.snapshot`` (command ``queue_snapshot``,
        fire and forget: without a running bridge the command expires unread).

        Called when the hub starts, because today's replayed events cannot know members who joined
        before midnight nor an Asterisk restart that happened while no bridge was publishing; the
        agent's queue commands call it too when Asterisk's answer shows the board was stale. Returns
        the action ids.
        """
        from callcenter.commands import command_stream

        targets = nodes if nodes is not None else tuple(dict.fromkeys((*self.nodes, *self.wallboard.nodes)))
        ids: list[str] = []
        for node in targets:
            action_id = f"cc-snap-{uuid.uuid4().hex}"
            fields: Any = ev.encode("queue_snapshot", {"action_id": action_id, "requested_by": "console"})
            try:
                await self.client().xadd(command_stream(node), fields, maxlen=100_000, approximate=True)
            except Exception as exc:  # Redis trouble: the board stays as replayed, the loop retries reads
                log.warning("console hub: could not ask %s for a queue snapshot: %s", node, exc)
                continue
            ids.append(action_id)
        return ids

    def _dispatch(self, stream: str, entry_id: str, fields: dict[Any, Any]) -> None:
        self.events_read += 1
        self.positions[stream] = entry_id
        try:
            d = ev.decode(fields)
        except (ValueError, TypeError):
            log.warning("console hub: undecodable entry %s on %s", entry_id, stream)
            return
        data = d["data"] if isinstance(d["data"], dict) else {"value": d["data"]}
        event = Event(stream, entry_id, str(d["type"]), data, d["ts"], encode_cursor(self.positions))
        if stream in WALLBOARD_STREAMS and self.wallboard.apply(event.type, data, event.ts):
            self._wallboard_dirty = True
        cache: dict[str, str] = {}
        for sub in self.subscribers:
            if not visible(event, sub.role, sub.unit_code):
                continue
            text = cache.get(sub.role)
            if text is None:
                text = sse(json.dumps(event.message(sub.role), ensure_ascii=False), id_=event.cursor)
                cache[sub.role] = text
            sub.push(text)

    def wallboard_message(self) -> str:
        return sse(json.dumps(self.wallboard.snapshot(), ensure_ascii=False), event="wallboard")

    def _flush_wallboard(self) -> None:
        if not self._wallboard_dirty:
            return
        self._wallboard_dirty = False
        subs = [s for s in self.subscribers if s.wallboard]
        if not subs:
            return
        text = self.wallboard_message()
        for sub in subs:
            sub.push(text)

    # ------------------------------------------------------------------ connections
    async def _replay(self, sub: Subscriber, since: dict[str, str], upto: dict[str, str]) -> list[str]:
        """Messages for the entries after ``since`` up to the hub's positions when ``sub`` attached."""
        r = self.client()
        out: list[str] = []
        collected: list[tuple[str, str, dict[Any, Any]]] = []
        for stream, end in upto.items():
            start = since.get(stream)
            if start is None or end == "0-0":
                continue
            lo = "(" + start
            while True:
                batch = await r.xrange(stream, min=lo, max=end, count=1000)
                collected.extend((stream, ev.as_text(i), f) for i, f in batch)
                if len(batch) < 1000:
                    break
                lo = "(" + ev.as_text(batch[-1][0])
        collected.sort(key=lambda t: tuple(int(x) for x in t[1].split("-")))
        # cursors of replayed entries: the client's positions advanced entry by entry
        cursor = {s: since.get(s, upto[s]) for s in upto}
        for stream, entry_id, fields in collected:
            cursor[stream] = entry_id
            try:
                d = ev.decode(fields)
            except (ValueError, TypeError):
                continue
            data = d["data"] if isinstance(d["data"], dict) else {"value": d["data"]}
            event = Event(stream, entry_id, str(d["type"]), data, d["ts"], encode_cursor(cursor))
            if visible(event, sub.role, sub.unit_code):
                out.append(sse(json.dumps(event.message(sub.role), ensure_ascii=False), id_=event.cursor))
        return out

    async def stream(
        self,
        *,
        role: str,
        unit_code: str | None,
        wallboard: bool = False,
        last_event_id: str | None = None,
        is_disconnected: Callable[[], Any] | None = None,
        heartbeat_s: float = HEARTBEAT_S,
        guard: StreamGuard | None = None,
    ) -> AsyncIterator[str]:
        """The SSE body of one console connection.

        With a ``guard`` the stream ends (``event: end`` with the reason) as soon as its user may no
        longer have it: deactivated or changed (checked every ``guard.every_s``) or token expired.
        """
        await self.start()
        since: dict[str, str] | None = None
        if last_event_id:
            since = decode_cursor(last_event_id)  # raises CursorError → 400 before streaming
        sub = Subscriber(role=role, unit_code=unit_code, wallboard=wallboard)
        # attach and take the positions in one step (no await between): live events come after them
        self.subscribers.add(sub)
        upto = dict(self.positions)
        try:
            yield "retry: 1000\n\n"
            hello = {"cursor": encode_cursor(upto), "resumed": since is not None}
            # a fresh connection starts its cursor here, so a reconnect before any event loses nothing
            yield sse(
                json.dumps(hello), id_=None if since is not None else encode_cursor(upto), event="hello"
            )
            if since is not None:
                for text in await self._replay(sub, since, upto):
                    yield text
            if wallboard:
                yield self.wallboard_message()
            last_beat = last_sent = time.monotonic()
            while True:
                if guard is not None:
                    reason = await guard.end_reason()
                    if reason is not None:
                        yield sse(json.dumps({"reason": reason}), event="end")
                        return
                wait = max(0.0, heartbeat_s - (time.monotonic() - last_sent))
                if guard is not None:
                    wait = min(wait, guard.seconds_to_next_check())
                try:
                    item = await asyncio.wait_for(sub.queue.get(), timeout=wait)
                except TimeoutError:
                    if time.monotonic() - last_sent < heartbeat_s:
                        continue  # woken for the guard only
                    item = ": keep-alive\n\n"
                if item is None:
                    return
                yield item
                last_sent = time.monotonic()
                if time.monotonic() - last_beat > heartbeat_s:
                    last_beat = time.monotonic()
                    if is_disconnected is not None and await is_disconnected():
                        return
        finally:
            self.subscribers.discard(sub)
