"""The AMI bridge's side of the command bus (AMI 指令执行): :class:`CommandExecutor` reads the shared
and the node's command streams and runs each command on the AMI manager; :func:`summarize` reduces
panoramisk's response to the result stored for :func:`callcenter.commands.wait_result`. The contract
(stream names, command types, validation, result keys) is the kernel's :mod:`callcenter.commands`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aredis

from callcenter.commands import RESULT_KEY, RESULT_TTL_S, CommandError, build_action, command_stream
from callcenter.events import STREAM_AGENTS, STREAM_COMMANDS, as_text, decode, encode

log = logging.getLogger(__name__)

GROUP = "ami-bridge"
COMMAND_MAX_AGE_S = 60.0


# --------------------------------------------------------------------------- bridge side


def _message_dict(msg: Any) -> dict[str, Any]:
    return {str(k): v for k, v in dict(msg).items() if str(k).lower() not in ("actionid",)}


def summarize(type_: str, response: Any) -> dict[str, Any]:
    """Reduce panoramisk's response (one message or a list) to ``ok`` / ``message`` / ``data``."""
    msgs = list(response) if isinstance(response, list) else [response]
    first = msgs[0] if msgs else {}
    ok = str(first.get("Response", "")) in ("Success", "Follows", "Goodbye")
    out: dict[str, Any] = {
        "ok": ok,
        "response": first.get("Response", ""),
        "message": first.get("Message", ""),
    }
    if type_ in ("originate", "spy"):
        final = next((m for m in msgs if str(m.get("Event", "")) == "OriginateResponse"), None)
        if final is not None:
            ok = ok and str(final.get("Response", "")) == "Success"
            out.update(
                ok=ok,
                data={
                    "uniqueid": final.get("Uniqueid", ""),
                    "channel": final.get("Channel", ""),
                    "reason": final.get("Reason", ""),
                    "response": final.get("Response", ""),
                },
            )
    elif len(msgs) > 1:
        out["data"] = {"events": [_message_dict(m) for m in msgs[1:]]}
    return out


class CommandExecutor:
    """Consumes the shared and the node's command streams (consumer group ``ami-bridge``, consumer
    = node name) and runs each command on the AMI manager."""

    def __init__(
        self,
        manager: Any,
        client: aredis.Redis,
        connected: asyncio.Event,
        *,
        default_queue: str = "hotline",
        action_timeout_s: float = 45.0,
        max_age_s: float = COMMAND_MAX_AGE_S,
        node: str = "pbx1",
        on_snapshot: Callable[[], Awaitable[dict[str, Any]]] | None = None,
    ) -> None:
        self.manager = manager
        self.node = node
        #: ``queue_snapshot`` runs this (the bridge's QueueStatus → ``queue.snapshot``)
        self.on_snapshot = on_snapshot
        self.consumer = node
        self.streams = (STREAM_COMMANDS, command_stream(node))
        self.redis = client
        self.connected = connected
        self.default_queue = default_queue
        self.action_timeout_s = action_timeout_s
        self.max_age_s = max_age_s
        self.executed = 0
        self._inflight: set[asyncio.Task[Any]] = set()

    async def _ensure_group(self) -> None:
        for stream in self.streams:
            try:
                await self.redis.xgroup_create(stream, GROUP, id="0", mkstream=True)
            except aredis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    async def run(self, stop: asyncio.Event) -> None:
        backlog = True  # first our own pending entries (a previous run died before acking)
        while not stop.is_set():
            try:
                await self._ensure_group()
                last = "0" if backlog else ">"
                resp: Any = await self.redis.xreadgroup(
                    GROUP, self.consumer, {s: last for s in self.streams}, count=50, block=1000
                )
                entries = [
                    (as_text(stream), entry_id, fields)
                    for stream, items in (resp or [])
                    for entry_id, fields in items
                ]
                if backlog and not entries:
                    backlog = False
                    continue
                for stream, entry_id, fields in entries:
                    task = asyncio.create_task(self._handle(stream, entry_id, fields))
                    self._inflight.add(task)
                    task.add_done_callback(self._inflight.discard)
                if backlog:
                    # pending entries are handed back until acked; wait for them before reading new ones
                    if self._inflight:
                        await asyncio.wait(list(self._inflight))
                    backlog = False
            except asyncio.CancelledError:
                raise
            except (aredis.RedisError, OSError) as exc:
                log.warning("commands: redis error %s; retrying", exc)
                await asyncio.sleep(1.0)
        for t in list(self._inflight):
            t.cancel()
        with contextlib.suppress(Exception):
            await self.redis.aclose()

    async def _handle(self, stream: str, entry_id: Any, fields: dict[Any, Any]) -> None:
        try:
            cmd = decode(fields)
        except (ValueError, TypeError) as exc:
            log.warning("commands: undecodable entry %s: %s", entry_id, exc)
            await self.redis.xack(stream, GROUP, entry_id)
            return
        type_ = str(cmd["type"])
        args = dict(cmd["data"]) if isinstance(cmd["data"], dict) else {}
        action_id = str(args.get("action_id") or f"cc-{uuid.uuid4().hex}")
        args["action_id"] = action_id
        result = await self.execute(type_, args, cmd.get("ts"))
        result["node"] = self.node
        await self._store(action_id, type_, result)
        await self.redis.xack(stream, GROUP, entry_id)

    async def execute(self, type_: str, args: dict[str, Any], ts: str | None = None) -> dict[str, Any]:
        if ts:
            with contextlib.suppress(ValueError):
                age = (datetime.now(UTC) - datetime.fromisoformat(ts)).total_seconds()
                if age > self.max_age_s:
                    return {"ok": False, "error": "expired", "message": f"command is {age:.0f} s old"}
        try:
            action = build_action(type_, args, self.default_queue)
        except CommandError as exc:
            return {"ok": False, "error": "bad_request", "message": str(exc)}
        try:
            await asyncio.wait_for(self.connected.wait(), 10)
        except TimeoutError:
            return {"ok": False, "error": "ami_disconnected", "message": "Asterisk is not connected"}
        if type_ == "queue_snapshot" and self.on_snapshot is not None:
            try:
                summary = await asyncio.wait_for(self.on_snapshot(), self.action_timeout_s)
            except TimeoutError:
                return {"ok": False, "error": "timeout", "message": "QueueStatus did not finish"}
            except Exception as exc:
                log.exception("commands: queue_snapshot failed")
                return {"ok": False, "error": "exception", "message": repr(exc)}
            self.executed += 1
            return {"ok": True, "response": "Success", "message": "queue snapshot published", "data": summary}
        try:
            # as_list=False: panoramisk would otherwise wait forever for more messages after
            # "Added interface to queue"; Originate (async) keeps auto mode to get OriginateResponse.
            as_list = None if type_ in ("originate", "spy") else False
            response = await asyncio.wait_for(
                self.manager.send_action(action, as_list=as_list), self.action_timeout_s
            )
        except TimeoutError:
            return {"ok": False, "error": "timeout", "message": f"no answer in {self.action_timeout_s:.0f} s"}
        except Exception as exc:
            log.exception("commands: %s %s failed", type_, args.get("action_id"))
            return {"ok": False, "error": "exception", "message": repr(exc)}
        self.executed += 1
        return summarize(type_, response)

    async def _store(self, action_id: str, type_: str, result: dict[str, Any]) -> None:
        payload = {"action_id": action_id, "type": type_, **result, "ts": datetime.now(UTC).isoformat()}
        try:
            await self.redis.set(
                RESULT_KEY.format(action_id=action_id),
                json.dumps(payload, ensure_ascii=False),
                ex=RESULT_TTL_S,
            )
            fields: Any = encode("ami.result", payload)
            await self.redis.xadd(STREAM_AGENTS, fields, maxlen=100_000, approximate=True)
        except aredis.RedisError as exc:
            log.warning("commands: could not store result of %s: %s", action_id, exc)
