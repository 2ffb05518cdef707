"""The callback dialler (外呼调度): a worker loop polling the ``callbacks`` table.

Why polling with ``SELECT … FOR UPDATE SKIP LOCKED`` and not APScheduler or arq: the state that
matters (attempts, the one attempt in progress, the cap on simultaneous calls, do-not-call) must live
in the same database and transaction as the cases and survey answers; a job store would be a second
copy to keep consistent. Each tick is stateless — everything is read back from the database and Redis
— so a killed worker loses nothing and a restarted one (or a second one) carries on.

One tick:

1. schedule return visits for ``case.close`` (or ``case.feedback``) events (consumer group on
   ``cc:events:cases``; idempotency key ``rv:{case}:{n}``);
2. re-send attempts that were claimed but whose command never reached Redis (crash in between);
3. read the originate results of attempts being dialled (``cc:ami:result:{action_id}``);
4. watch answered calls: a call row that ended without a report from the AGI handler is a dropped
   attempt; leases that expire are lost attempts; both are retried per policy;
5. claim due callbacks (window, cap, do-not-call, fairness) and send ``originate`` commands.

A command and its "sent" marker (``cc:callbacks:sent:{action_id}``) are written in one Redis
MULTI/EXEC, so after a crash the dialler knows whether the originate of an attempt went out: it is
sent at most once (the AMI ActionID and the channel's uniqueid are that same ``action_id``).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.config import Settings
from callcenter.db.base import utcnow
from callcenter.db.models import Call, Callback
from callcenter.db.session import session_scope
from callcenter.domain import callbacks as policy
from callcenter.events import STREAM_CASES, STREAM_COMMANDS, StreamConsumer, decode, encode
from callcenter.services import callbacks as service

log = logging.getLogger(__name__)

SENT_KEY = "cc:callbacks:sent:{action_id}"
SENT_TTL_S = 24 * 3600
RESULT_KEY = "cc:ami:result:{action_id}"
CASES_GROUP = "callbacks"

Clock = Callable[[], datetime]


@dataclass
class TickStats:
    scheduled: int = 0
    sent: int = 0
    resent: int = 0
    answered: int = 0
    failed: int = 0
    done: int = 0
    lost: int = 0
    claimed: list[int] = field(default_factory=list)


class Dialler:
    """Runs the callback schedule against one database and one Redis."""

    def __init__(
        self,
        settings: Settings,
        client: redis.Redis,
        *,
        clock: Clock = utcnow,
        database_url: str | None = None,
    ) -> None:
        self.settings = settings
        self.redis = client
        self.options = settings.callbacks
        self.clock = clock
        self.database_url = database_url or settings.database_url
        self.worker_id = self.options.worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self.window = service.window_of(settings)
        self.case_events = StreamConsumer(
            client, STREAM_CASES, CASES_GROUP, self.options.worker_id or "dialler", count=200, name="dialler"
        )
        self._group_ready = False

    # ------------------------------------------------------------------ loop
    def run(self, stop: threading.Event) -> None:
        log.info("callback dialler %s started", self.worker_id)
        while not stop.is_set():
            try:
                self.tick()
            except (redis.RedisError, OSError) as exc:
                log.warning("dialler: redis unavailable: %s", exc)
                self._group_ready = False
            except Exception:  # database hiccup or a bug in one round: log it, try the next round
                log.exception("dialler: tick failed")
            stop.wait(self.options.poll_interval_s)

    def tick(self) -> TickStats:
        stats = TickStats()
        self.consume_case_events(stats)
        self.resend_unsent(stats)
        self.poll_results(stats)
        self.watch_calls(stats)
        self.claim_and_dial(stats)
        return stats

    # ------------------------------------------------------------------ 1. case events
    def consume_case_events(self, stats: TickStats, block_ms: int | None = None) -> None:
        """Schedule return visits for closed (or answered) cases: own pending events first."""
        if not self._group_ready:
            self.case_events.ensure_group()
            self._group_ready = True
        trigger = "case.close" if self.settings.callbacks.return_visit_after == "closed" else "case.feedback"

        def on_event(ev: dict[str, Any]) -> bool:
            if ev["type"] != trigger:
                return False
            data = ev["data"] if isinstance(ev["data"], dict) else {}
            number = str(data.get("number") or "")
            if not number:
                return False
            seq = data.get("seq")
            with session_scope(self.database_url) as s:
                cb, why = service.schedule_return_visit(
                    s,
                    number,
                    self.settings,
                    self.clock(),
                    trigger_seq=int(seq) if isinstance(seq, int) else None,
                )
            if why == "scheduled":
                stats.scheduled += 1
            elif cb is None:
                log.info("dialler: no return visit for case %s: %s", number, why)
            return True

        self.case_events.read(on_event, block_ms)

    # ------------------------------------------------------------------ 2. crash between claim and send
    def resend_unsent(self, stats: TickStats) -> None:
        now = self.clock()
        with session_scope(self.database_url) as s:
            rows = [
                cb
                for cb in service.in_progress(s, expired_before=now)
                if (cb.outcome or {}).get("phase") == "claimed"
            ]
            todo = [
                (cb.id, cb.attempts, cb.kind, cb.phone, (cb.outcome or {}).get("case_number")) for cb in rows
            ]
        for cb_id, attempt, kind, phone, case_number in todo:
            aid = service.action_id(cb_id, attempt)
            if self.redis.exists(SENT_KEY.format(action_id=aid)):
                with session_scope(self.database_url) as s:
                    service.mark_phase(s, cb_id, attempt, "dialing", now, self.options.lease_s)
                continue
            claim = service.Claim(cb_id, kind, phone, attempt, aid, case_number)
            with session_scope(self.database_url) as s:  # renew the lease before sending again
                if not service.mark_phase(s, cb_id, attempt, "claimed", now, self.options.lease_s):
                    continue
            self._send(claim)
            with session_scope(self.database_url) as s:
                service.mark_phase(s, cb_id, attempt, "dialing", now, self.options.lease_s)
            stats.resent += 1

    # ------------------------------------------------------------------ 3. originate results
    def poll_results(self, stats: TickStats) -> None:
        with session_scope(self.database_url) as s:
            dialing = [
                (cb.id, cb.attempts, cb.kind, cb.locked_until)
                for cb in service.in_progress(s)
                if (cb.outcome or {}).get("phase") == "dialing"
            ]
        if not dialing:
            return
        keys = [RESULT_KEY.format(action_id=service.action_id(i, a)) for i, a, _k, _l in dialing]
        raws: list[Any] = list(self.redis.mget(keys))
        now = self.clock()
        for (cb_id, attempt, kind, locked_until), raw in zip(dialing, raws, strict=True):
            if raw is None:
                lease_end = service._aware(locked_until)
                if lease_end is not None and lease_end < now:
                    self._fail(cb_id, attempt, policy.Failure.AMI_ERROR, "no originate result (lost)")
                    stats.lost += 1
                continue
            result = json.loads(raw)
            outcome = policy.classify_originate(result)
            data = result.get("data") or {}
            if outcome.answered:
                stats.answered += 1
                with session_scope(self.database_url) as s:
                    if kind == "queue_callback":
                        # the citizen is in the queue with their place: the callback did its job
                        if service.complete_attempt(
                            s, cb_id, attempt, "connected", now, uniqueid=data.get("uniqueid")
                        ):
                            stats.done += 1
                    else:
                        service.mark_phase(
                            s,
                            cb_id,
                            attempt,
                            "connected",
                            now,
                            self.options.call_max_s,
                            uniqueid=data.get("uniqueid") or service.action_id(cb_id, attempt),
                        )
            else:
                assert outcome.failure is not None
                self._fail(cb_id, attempt, outcome.failure, outcome.detail)
                stats.failed += 1

    def _fail(self, cb_id: int, attempt: int, failure: policy.Failure, detail: str) -> None:
        with session_scope(self.database_url) as s:
            service.fail_attempt(
                s, cb_id, attempt, failure, self.clock(), self.settings.callbacks, self.window, detail
            )

    # ------------------------------------------------------------------ 4. answered calls
    def watch_calls(self, stats: TickStats) -> None:
        now = self.clock()
        with session_scope(self.database_url) as s:
            connected = [
                (cb.id, cb.attempts, cb.locked_until, (cb.outcome or {}).get("uniqueid"))
                for cb in service.in_progress(s)
                if (cb.outcome or {}).get("phase") == "connected"
            ]
            ended = self._ended_calls(s, [u for *_r, u in connected if u])
        for cb_id, attempt, locked_until, uniqueid in connected:
            end = ended.get(uniqueid or "")
            lease_end = service._aware(locked_until)
            if end is not None and end + timedelta(seconds=self.options.ended_grace_s) <= utcnow():
                self._fail(cb_id, attempt, policy.Failure.DROPPED, "call ended without a survey result")
                stats.lost += 1
            elif lease_end is not None and lease_end < now:
                self._fail(cb_id, attempt, policy.Failure.DROPPED, "call lasted beyond call_max_s")
                stats.lost += 1

    @staticmethod
    def _ended_calls(s: Session, uniqueids: list[str]) -> dict[str, datetime]:
        if not uniqueids:
            return {}
        rows = s.execute(
            select(Call.uniqueid, Call.ended_at).where(
                Call.uniqueid.in_(uniqueids), Call.ended_at.is_not(None)
            )
        ).all()
        return {u: e for u, e in ((u, service._aware(e)) for u, e in rows) if e is not None}

    # ------------------------------------------------------------------ 5. claim and dial
    def claim_and_dial(self, stats: TickStats) -> None:
        now = self.clock()
        with session_scope(self.database_url) as s:
            claims = service.claim_due(s, now, self.settings, self.worker_id)
        for claim in claims:  # committed: from here on the attempt exists, whatever happens to us
            self._send(claim)
            with session_scope(self.database_url) as s:
                service.mark_phase(s, claim.callback_id, claim.attempt, "dialing", now, self.options.lease_s)
            stats.sent += 1
            stats.claimed.append(claim.callback_id)

    def originate_args(self, claim: service.Claim) -> dict[str, Any]:
        o = self.options
        phone = policy.normalize_phone(claim.phone)
        variables = {
            "CC_CALLBACK_ID": str(claim.callback_id),
            "CC_PHONE": phone,
            "CC_ATTEMPT": str(claim.attempt),
        }
        if claim.kind == "return_visit":
            context = o.return_visit_context
            variables["CC_CASE_NUMBER"] = claim.case_number or ""
        else:
            context = o.queue_callback_context
            variables["CC_QUEUE_PRIO"] = str(o.queue_callback_priority)
        cid = self.settings.asterisk.outbound_caller_id
        return {
            "action_id": claim.action_id,
            "channel": o.dial_template.format(phone=phone),
            "context": context,
            "exten": "s",
            "priority": 1,
            "caller_id": f'"{cid}" <{cid}>',
            "timeout_ms": o.originate_timeout_ms,
            "variables": variables,
            "channel_id": claim.action_id,
            "other_channel_id": f"{claim.action_id}-2",
        }

    def _send(self, claim: service.Claim) -> None:
        from callcenter.commands import build_action

        args = self.originate_args(claim)
        build_action("originate", args)  # a bad dial template fails here, loudly
        fields: Any = encode("originate", args)
        pipe = self.redis.pipeline(transaction=True)
        pipe.set(SENT_KEY.format(action_id=claim.action_id), "1", ex=SENT_TTL_S)
        pipe.xadd(STREAM_COMMANDS, fields, maxlen=100_000, approximate=True)
        pipe.execute()
        log.info(
            "dialler: %s %s attempt %d → %s", claim.kind, claim.callback_id, claim.attempt, args["channel"]
        )


def originated_action_ids(client: redis.Redis) -> list[str]:
    """Action ids of every ``originate`` command on the command stream (tests, benchmarks)."""
    out = []
    entries: Any = client.xrange(STREAM_COMMANDS)
    for _id, fields in entries:
        ev = decode(fields)
        if ev["type"] == "originate":
            out.append(str(ev["data"].get("action_id")))
    return out


def callbacks_loop(settings: Settings) -> Callable[[threading.Event], None]:
    """Worker loop factory (declared in the callbacks manifest)."""
    from callcenter.events import redis_client

    dialler = Dialler(settings, redis_client(settings.redis_url))
    return dialler.run


__all__ = ["Callback", "Dialler", "callbacks_loop", "originated_action_ids"]
