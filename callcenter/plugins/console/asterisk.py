"""The console's commands to Asterisk (坐席指令): a user's queue member interface, and one command sent
through the AMI bridge of the user's node with its result awaited (the bus is the kernel's
:mod:`callcenter.commands`; the telephony plugin executes it)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import HTTPException, Request, status

from callcenter.db.models import User

from .deps import settings_of
from .schemas import CommandResult

#: Pause reasons (暂停原因) sent to Asterisk as QueuePause ``Reason``; labels in zh-CN.json.
PAUSE_REASONS = ("break", "training", "acw", "meeting")
COMMAND_TIMEOUT_S = 10.0

#: Asterisk's (English) refusals → the code of their Chinese text (``error.<code>`` in zh-CN.json).
#: The console's error replies carry the code in the ``X-Error-Code`` header; the English detail stays
#: for logs and API clients.
AMI_REFUSALS: tuple[tuple[str, str], ...] = (
    ("already there", "ami.already_in_queue"),
    ("not there", "ami.not_in_queue"),
    ("interface not found", "ami.not_in_queue"),
    ("no such queue", "ami.no_such_queue"),
    ("not dynamic", "ami.member_not_dynamic"),
    ("no such channel", "ami.no_such_channel"),
    ("channel not existent", "ami.no_such_channel"),
    ("originate failed", "ami.originate_failed"),
)
ERROR_CODE_HEADER = "X-Error-Code"


class AsteriskRefused(HTTPException):
    """Asterisk answered a command with an error (HTTP 502, ``X-Error-Code`` names the Chinese text)."""

    def __init__(self, type_: str, message: str, code: str) -> None:
        super().__init__(
            status.HTTP_502_BAD_GATEWAY,
            f"Asterisk refused {type_}: {message}",
            headers={ERROR_CODE_HEADER: code},
        )
        self.type = type_
        self.message = message
        self.code = code


def refusal_code(result: dict[str, Any]) -> str:
    """The error code of a failed command result (``ami.refused`` when the message is not known)."""
    error = str(result.get("error") or "")
    if error in ("expired", "ami_disconnected", "timeout"):
        return f"ami.{error}"
    text = str(result.get("message") or "").lower()
    return next((code for needle, code in AMI_REFUSALS if needle in text), "ami.refused")


def agent_interface(user: User) -> str | None:
    """The queue member interface of a user: ``PJSIP/<extension>``, or the extension as given when it
    already names a channel technology (e.g. ``Local/sim-1-20@sim-agents/n``)."""
    ext = (user.extension or "").strip()
    if not ext:
        return None
    return ext if "/" in ext else f"PJSIP/{ext}"


def spy_target(interface: str) -> str:
    """ChanSpy channel prefix of a queue member interface (``Local/x@ctx/n`` → ``Local/x@ctx``)."""
    if interface.startswith("Local/") and interface.count("/") >= 2:
        return interface.rsplit("/", 1)[0]
    return interface


def user_node(request: Request, user: User) -> str:
    """The Asterisk node of a user's softphone (users.node, else this API's configured node)."""
    return user.node or settings_of(request).asterisk.node


async def run_command(request: Request, type_: str, node: str | None = None, **args: Any) -> CommandResult:
    """Send one command to Asterisk through the AMI bridge of ``node`` and wait for its result."""
    import redis

    from callcenter.commands import CommandError, send_command, wait_result
    from callcenter.events import redis_client

    timeout = float(getattr(request.app.state, "console_command_timeout_s", COMMAND_TIMEOUT_S))
    client = redis_client(settings_of(request).redis_url)
    try:
        try:
            action_id = await asyncio.to_thread(send_command, client, type_, node, **args)
        except CommandError as exc:
            raise HTTPException(422, str(exc), headers={ERROR_CODE_HEADER: "ami.bad_command"}) from exc
        except redis.RedisError as exc:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                f"Redis unavailable, command not sent: {exc}",
                headers={ERROR_CODE_HEADER: "redis_down"},
            ) from exc
        try:
            result = await asyncio.to_thread(wait_result, client, action_id, timeout)
        except TimeoutError as exc:
            raise HTTPException(
                status.HTTP_504_GATEWAY_TIMEOUT,
                f"the AMI bridge did not answer command {action_id} in {timeout:.0f} s "
                "(is `callcenter ami-bridge` running?)",
                headers={ERROR_CODE_HEADER: "ami.no_bridge"},
            ) from exc
    finally:
        client.close()
    if not result.get("ok"):
        raise AsteriskRefused(
            type_, str(result.get("message") or result.get("error") or "failed"), refusal_code(result)
        )
    return CommandResult(action_id=action_id, result=result)


def my_interface(user: User) -> str:
    iface = agent_interface(user)
    if iface is None:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            "your user has no extension: ask an admin to set one",
            headers={ERROR_CODE_HEADER: "no_extension"},
        )
    return iface
