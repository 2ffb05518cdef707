"""Commands to Asterisk (AMI 指令) through the AMI bridge, and their results — the kernel's port to telephony.

The application never talks AMI itself: it appends a command to a Redis stream with
:func:`send_command` and waits for the result with :func:`wait_result`. ``cc:commands:ami`` is read
by every node's bridge (one of them takes each command: originates of callbacks and return visits);
``cc:commands:ami:{node}`` only by the bridge of that node (commands about its channels and its
queue members). The bridge (the one AMI owner of its node) validates it, runs it with the same
ActionID, stores the result at ``cc:ami:result:{action_id}`` (JSON, TTL 300 s) and
publishes it as ``ami.result`` on ``cc:events:agents``. The executor is the telephony plugin's
:class:`~callcenter.plugins.telephony.commands.CommandExecutor`; everything here is the contract both
sides share, so that the console and the dialler need not import telephony.

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
queue_snapshot (none) — the bridge re-reads ``QueueStatus`` and publishes a fresh
               ``queue.snapshot`` (the console asks for it after its own restart and when a
               queue command shows that its view of the members was stale)
=============  ==========================================================================
"""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

import redis

from callcenter.events import STREAM_COMMANDS, encode
from callcenter.exceptions import CommandError

RESULT_KEY = "cc:ami:result:{action_id}"
RESULT_TTL_S = 300
COMMAND_TYPES = (
    "originate",
    "queue_add",
    "queue_remove",
    "queue_pause",
    "redirect",
    "hangup",
    "spy",
    "queue_snapshot",
)
SPY_MODES = {"listen": "", "whisper": "w", "barge": "B"}
_SAFE = re.compile(r"^[^\r\n]*$")
_ACTION_ID = re.compile(r"^[A-Za-z0-9._:-]{1,80}$")

__all__ = [
    "COMMAND_TYPES",
    "RESULT_KEY",
    "RESULT_TTL_S",
    "SPY_MODES",
    "CommandError",
    "build_action",
    "command_stream",
    "send_command",
    "wait_result",
]

# --------------------------------------------------------------------------- client side


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
    elif type_ == "queue_snapshot":
        a = {"Action": "QueueStatus"}
    else:
        raise CommandError(f"unknown command type {type_!r}")
    a["ActionID"] = action_id
    return a
