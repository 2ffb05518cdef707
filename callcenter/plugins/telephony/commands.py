"""Commands to Asterisk (AMI 指令) through the AMI bridge, and their results.

The application never talks AMI itself: it appends a command to a Redis stream with
:func:`send_command` and waits for the result with :func:`wait_result`. ``cc:commands:ami`` is read
by every node's bridge (one of them takes each command: originates of callbacks and return visits);
``cc:commands:ami:{node}`` only by the bridge of that node (commands about its channels and its
queue members). The bridge (the one AMI owner of its node) validates it, runs it with the same
ActionID, stores the result at ``cc:ami:result:{action_id}`` (JSON, TTL 300 s) and
publishes it as ``ami.result`` on ``cc:events:agents``.

Command types and arguments (validated by :func:`build_action`):

=============  ==========================================================================
originate      channel; context+exten[+priority] or application[+data]; caller_id,
               timeout_ms, variables (dict), channel_id, other_channel_id, account
queue_add      interface; queue, member_name, penalty, paused, state_interface
queue_remove   interface; queue
queue_pause    interface; paused (default true), reason, queue (all queues when absent)
redirect       channel, context, exten; priority
hangup         channel; cause (default 16)
spy            supervisor (interface to ring, e.g. PJSIP/8001), target (channel);
               mode listen|whisper|barge, caller_id
=============  ==========================================================================
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import redis
import redis.asyncio as aredis

from callcenter.events import STREAM_AGENTS, STREAM_COMMANDS, decode, encode

log = logging.getLogger(__name__)

RESULT_KEY = "cc:ami:result:{action_id}"
RESULT_TTL_S = 300
GROUP = "ami-bridge"
COMMAND_MAX_AGE_S = 60.0
COMMAND_TYPES = ("originate", "queue_add", "queue_remove", "queue_pause", "redirect", "hangup", "spy")
SPY_MODES = {"listen": "", "whisper": "w", "barge": "B"}
_SAFE = re.compile(r"^[^\r\n]*$")
_ACTION_ID = re.compile(r"^[A-Za-z0-9._:-]{1,80}$")


class CommandError(ValueError):
    """A command with missing or invalid arguments (nothing was sent to Asterisk)."""


# --------------------------------------------------------------------------- client side


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def command_stream(node: str | None = None) -> str:
    """The command stream of ``node``, or the shared one (any node) when ``node`` is None."""
    return STREAM_COMMANDS if not node else f"{STREAM_COMMANDS}:{node}"


def send_command(client: redis.Redis, type_: str, node: str | None = None, **args: Any) -> str:
    """Queue a command for the AMI bridge of ``node`` (any node when None); returns its ``action_id``."""
    if type_ not in COMMAND_TYPES:
        raise CommandError(f"unknown command type {type_!r}; expected one of {', '.join(COMMAND_TYPES)}")
    action_id = str(args.pop("action_id", None) or f"cc-{uuid.uuid4().hex}")
    if not _ACTION_ID.match(action_id):
        raise CommandError("action_id must be 1-80 characters of [A-Za-z0-9._:-]")
    build_action(type_, {**args, "action_id": action_id})  # fail here, not in the bridge
    fields: Any = encode(type_, {**args, "action_id": action_id})
    client.xadd(command_stream(node), fields, maxlen=100_000, approximate=True)
    return action_id


def wait_result(client: redis.Redis, action_id: str, timeout: float = 30.0) -> dict[str, Any]:
    """The result of a command; raises TimeoutError when none arrives in ``timeout`` seconds."""
    key = RESULT_KEY.format(action_id=action_id)
    deadline = time.monotonic() + timeout
    while True:
        raw = client.get(key)
        if raw is not None:
            return dict(json.loads(raw))
        if time.monotonic() >= deadline:
            raise TimeoutError(f"no result for AMI command {action_id} after {timeout:.0f} s")
        time.sleep(0.05)


# --------------------------------------------------------------------------- validation


def _req(args: dict[str, Any], name: str) -> str:
    value = args.get(name)
    if value is None or str(value).strip() == "":
        raise CommandError(f"missing argument {name!r}")
    return _clean(name, value)


def _clean(name: str, value: Any) -> str:
    s = str(value)
    if not _SAFE.match(s):
        raise CommandError(f"argument {name!r} contains a line break")
    return s


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def build_action(type_: str, args: dict[str, Any], default_queue: str = "hotline") -> dict[str, Any]:
    """The AMI action (headers) for a command; raises CommandError for bad input."""
    action_id = _req(args, "action_id")
    a: dict[str, Any]
    if type_ == "originate":
        a = {"Action": "Originate", "Channel": _req(args, "channel"), "Async": "true"}
        if args.get("application"):
            a["Application"] = _req(args, "application")
            if args.get("data") is not None:
                a["Data"] = _clean("data", args["data"])
        else:
            a["Context"] = _req(args, "context")
            a["Exten"] = _req(args, "exten")
            a["Priority"] = _clean("priority", args.get("priority", 1))
        a["Timeout"] = str(int(args.get("timeout_ms", 30000)))
        for src, dst in (
            ("caller_id", "CallerID"),
            ("channel_id", "ChannelId"),
            ("other_channel_id", "OtherChannelId"),
            ("account", "Account"),
        ):
            if args.get(src):
                a[dst] = _clean(src, args[src])
        variables = args.get("variables") or {}
        if not isinstance(variables, dict):
            raise CommandError("variables must be an object")
        if variables:
            a["Variable"] = [f"{_clean('variable', k)}={_clean('variable', v)}" for k, v in variables.items()]
    elif type_ == "queue_add":
        a = {
            "Action": "QueueAdd",
            "Queue": _clean("queue", args.get("queue") or default_queue),
            "Interface": _req(args, "interface"),
            "Penalty": str(int(args.get("penalty", 0))),
            "Paused": "true" if _bool(args.get("paused", False)) else "false",
        }
        if args.get("member_name"):
            a["MemberName"] = _clean("member_name", args["member_name"])
        if args.get("state_interface"):
            a["StateInterface"] = _clean("state_interface", args["state_interface"])
    elif type_ == "queue_remove":
        a = {
            "Action": "QueueRemove",
            "Queue": _clean("queue", args.get("queue") or default_queue),
            "Interface": _req(args, "interface"),
        }
    elif type_ == "queue_pause":
        a = {
            "Action": "QueuePause",
            "Interface": _req(args, "interface"),
            "Paused": "true" if _bool(args.get("paused", True)) else "false",
        }
        if args.get("queue"):
            a["Queue"] = _clean("queue", args["queue"])
        if args.get("reason"):
            a["Reason"] = _clean("reason", args["reason"])
    elif type_ == "redirect":
        a = {
            "Action": "Redirect",
            "Channel": _req(args, "channel"),
            "Context": _req(args, "context"),
            "Exten": _req(args, "exten"),
            "Priority": _clean("priority", args.get("priority", 1)),
        }
    elif type_ == "hangup":
        a = {"Action": "Hangup", "Channel": _req(args, "channel"), "Cause": str(int(args.get("cause", 16)))}
    elif type_ == "spy":
        mode = str(args.get("mode", "listen"))
        if mode not in SPY_MODES:
            raise CommandError(f"spy mode must be one of {', '.join(SPY_MODES)}")
        target = _req(args, "target")
        if "," in target:
            raise CommandError("target channel must not contain a comma")
        a = {
            "Action": "Originate",
            "Channel": _req(args, "supervisor"),
            "Application": "ChanSpy",
            "Data": f"{target},qE{SPY_MODES[mode]}",
            "Async": "true",
            "Timeout": str(int(args.get("timeout_ms", 30000))),
        }
        if args.get("caller_id"):
            a["CallerID"] = _clean("caller_id", args["caller_id"])
    else:
        raise CommandError(f"unknown command type {type_!r}")
    a["ActionID"] = action_id
    return a


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
    ) -> None:
        self.manager = manager
        self.node = node
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
                    (_text(stream), entry_id, fields)
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
