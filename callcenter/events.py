"""Domain events on Redis streams (事件总线), with a transactional outbox.

The database is the source of truth. A change that matters to consoles and workers writes an
``OutboxEvent`` row in the same transaction (:func:`enqueue`); after commit, :class:`OutboxRelay`
copies unpublished rows to Redis with ``XADD`` and marks them published. If Redis is down the rows
simply wait: a case change is never lost or blocked by Redis. Ephemeral, high-rate events
(partial transcripts, queue snapshots) go straight to Redis with :func:`publish_now`.

Each stream entry has the fields ``type`` (e.g. ``case.dispatched``), ``data`` (JSON) and ``ts``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.db.base import utcnow
from callcenter.db.models import OutboxEvent

log = logging.getLogger(__name__)

STREAM_CASES = "cc:events:cases"
STREAM_CALLS = "cc:events:calls"
STREAM_QUEUES = "cc:events:queues"
STREAM_AGENTS = "cc:events:agents"
STREAM_TRANSCRIPTS = "cc:events:transcripts"
STREAM_SUGGESTIONS = "cc:events:suggestions"
STREAM_CALLBACKS = "cc:events:callbacks"
STREAM_COMMANDS = "cc:commands:ami"  # commands to the process that owns AMI

ALL_STREAMS = (
    STREAM_CASES,
    STREAM_CALLS,
    STREAM_QUEUES,
    STREAM_AGENTS,
    STREAM_TRANSCRIPTS,
    STREAM_SUGGESTIONS,
    STREAM_CALLBACKS,
)


def transcript_stream(uniqueid: str) -> str:
    """Per-call transcript stream (partials and finals of one call)."""
    return f"cc:transcripts:{uniqueid}"


def audiosocket_key(audio_uuid: str) -> str:
    """Who an AudioSocket stream belongs to (``cc:audiosocket:{uuid}``, JSON): written by telephony (the
    intake IVR's speech step, the whole-call spy leg) before the audio starts, read by the speech service."""
    return f"cc:audiosocket:{audio_uuid}"


def encode(type_: str, payload: dict[str, Any], ts: datetime | None = None) -> dict[str, str]:
    return {
        "type": type_,
        "data": json.dumps(payload, ensure_ascii=False, default=str),
        "ts": (ts or datetime.now(UTC)).isoformat(),
    }


def as_text(value: Any) -> str:
    """A Redis reply value (``bytes`` without ``decode_responses``, else ``str``) as text."""
    return value.decode() if isinstance(value, bytes) else str(value)


def decode(fields: dict[Any, Any]) -> dict[str, Any]:
    """Decode a stream entry (bytes or str keys) to ``{"type", "data", "ts"}``."""
    f = {as_text(k): as_text(v) for k, v in fields.items()}
    return {"type": f.get("type", ""), "data": json.loads(f.get("data", "{}")), "ts": f.get("ts")}


def enqueue(session: Session, stream: str, type_: str, payload: dict[str, Any]) -> OutboxEvent:
    """Add an event to the outbox inside the caller's transaction."""
    ev = OutboxEvent(stream=stream, type=type_, payload=payload, created_at=utcnow())
    session.add(ev)
    return ev


def ensure_group(client: redis.Redis, stream: str, group: str, start_id: str = "0") -> None:
    """Create consumer group ``group`` on ``stream`` (and the stream) unless it exists.

    Safe to call again at any time, e.g. after Redis restarted empty and the group is gone.
    """
    try:
        client.xgroup_create(stream, group, id=start_id, mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def publish_now(
    client: redis.Redis, stream: str, type_: str, payload: dict[str, Any], maxlen: int = 100_000
) -> str:
    """Publish straight to Redis (for ephemeral events). Raises ``redis.RedisError`` on outage."""
    entry_id = client.xadd(stream, encode(type_, payload), maxlen=maxlen, approximate=True)  # type: ignore[arg-type]
    return as_text(entry_id)


#: Handles one decoded entry (``{"type", "data", "ts"}``); returns whether it counted as handled.
EntryHandler = Callable[[dict[str, Any]], bool | None]


class StreamConsumer:
    """Reads one stream through a consumer group, the way every worker loop here must (消费者组).

    Each :meth:`read` takes this consumer's own pending entries first — those a previous run read but
    did not acknowledge before it died — then new ones (blocking up to ``block_ms``). An entry that
    cannot be decoded, or whose handler raises one of ``drop_on``, is logged and acknowledged (it would
    fail forever); any other exception from the handler is logged and leaves the entry pending, so it
    is delivered again after a restart; a handled entry is acknowledged. :meth:`run_forever` survives
    Redis outages and re-creates the group when Redis restarted empty.

    (The AMI bridge's command executor reads its streams on asyncio with concurrent handlers and keeps
    its own loop: :class:`callcenter.plugins.telephony.commands.CommandExecutor`.)
    """

    def __init__(
        self,
        client: redis.Redis,
        stream: str,
        group: str,
        consumer: str,
        *,
        start_id: str = "0",
        count: int = 100,
        drop_on: tuple[type[BaseException], ...] = (),
        on_error: Callable[[Any, dict[str, Any]], None] | None = None,
        name: str | None = None,
    ) -> None:
        self.client = client
        self.stream = stream
        self.group = group
        self.consumer = consumer
        self.start_id = start_id
        self.count = count
        self.drop_on = drop_on
        self.on_error = on_error
        self.name = name or group

    def ensure_group(self) -> None:
        ensure_group(self.client, self.stream, self.group, start_id=self.start_id)

    def read(self, handle: EntryHandler, block_ms: int | None = 1000) -> int:
        """One batch: pending entries, then new ones; returns the number the handler counted."""
        handled = 0
        for start in ("0", ">"):
            resp: Any = self.client.xreadgroup(
                self.group,
                self.consumer,
                {self.stream: start},
                count=self.count,
                block=block_ms if start == ">" else None,
            )
            for _stream, entries in resp or []:
                for entry_id, fields in entries:
                    if not fields:  # deleted by XTRIM while pending
                        self.client.xack(self.stream, self.group, entry_id)
                        continue
                    try:
                        ev = decode(fields)
                    except (ValueError, UnicodeDecodeError) as exc:
                        log.error("%s: malformed entry %s dropped: %s", self.name, entry_id, exc)
                        self.client.xack(self.stream, self.group, entry_id)
                        continue
                    try:
                        counted = handle(ev)
                    except self.drop_on as exc:
                        log.error("%s: entry %s dropped: %s", self.name, entry_id, exc)
                    except Exception:
                        if self.on_error is not None:
                            self.on_error(entry_id, ev)
                        log.exception("%s: entry %s failed; it stays pending", self.name, entry_id)
                        continue
                    else:
                        handled += 1 if counted else 0
                    self.client.xack(self.stream, self.group, entry_id)
        return handled

    def run_forever(self, handle: EntryHandler, stop: threading.Event, block_ms: int = 1000) -> None:
        self.ensure_group()
        while not stop.is_set():
            try:
                self.read(handle, block_ms)
            except redis.RedisError as exc:
                log.warning("%s: redis unavailable (%s); retrying", self.name, exc)
                stop.wait(1.0)
                with contextlib.suppress(redis.RedisError):
                    self.ensure_group()  # Redis restarted empty: the group is gone


class OutboxRelay:
    """Copies outbox rows to Redis streams in id order; safe to run in several processes.

    ``flush`` returns the number of events published. Redis errors are logged and the rows are
    left for the next flush. On PostgreSQL rows are claimed with ``FOR UPDATE SKIP LOCKED``.
    """

    def __init__(
        self,
        session_factory: Callable[[], Session],
        client: redis.Redis,
        batch: int = 500,
        maxlen: int = 100_000,
        coalesce_s: float = 0.02,
    ) -> None:
        self.session_factory = session_factory
        self.client = client
        self.batch = batch
        self.maxlen = maxlen
        self.coalesce_s = coalesce_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def flush(self) -> int:
        published = 0
        while True:
            with self.session_factory() as session, session.begin():
                q = (
                    select(OutboxEvent)
                    .where(OutboxEvent.published_at.is_(None))
                    .order_by(OutboxEvent.id)
                    .limit(self.batch)
                )
                if session.get_bind().dialect.name == "postgresql":
                    q = q.with_for_update(skip_locked=True)
                rows = list(session.scalars(q))
                if not rows:
                    return published
                try:
                    pipe = self.client.pipeline(transaction=False)
                    for row in rows:
                        pipe.xadd(
                            row.stream,
                            encode(row.type, {**row.payload, "event_id": row.id}, row.created_at),  # type: ignore[arg-type]
                            maxlen=self.maxlen,
                            approximate=True,
                        )
                    pipe.execute()
                except redis.RedisError as exc:
                    log.warning("outbox: redis unavailable, %d events wait: %s", len(rows), exc)
                    for row in rows:
                        row.attempts += 1
                    return published
                now = utcnow()
                for row in rows:
                    row.published_at = now
                published += len(rows)
                if len(rows) < self.batch:
                    return published

    def notify(self) -> None:
        """Ask the background loop to flush now (called after a commit)."""
        self._wake.set()

    def start(self, interval_s: float = 1.0) -> None:
        """Run ``flush`` in a daemon thread: on ``notify`` and every ``interval_s``."""
        if self._thread is not None:
            return

        def loop() -> None:
            while not self._stop.is_set():
                if self._wake.wait(interval_s):
                    # Let commits that arrive together share one relay transaction.
                    self._stop.wait(self.coalesce_s)
                self._wake.clear()
                try:
                    self.flush()
                except Exception:  # database hiccup: log, retry next round
                    log.exception("outbox flush failed")

        self._thread = threading.Thread(target=loop, name="outbox-relay", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None


def redis_client(url: str | None = None) -> redis.Redis:
    """A Redis client with short timeouts so an outage fails fast instead of blocking."""
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    from callcenter.config import get_settings

    return redis.Redis.from_url(
        url or get_settings().redis_url,
        socket_timeout=2.0,
        socket_connect_timeout=2.0,
        health_check_interval=30,
        retry=Retry(NoBackoff(), 1),  # one quick retry; an outage must not stall a call for seconds
    )
