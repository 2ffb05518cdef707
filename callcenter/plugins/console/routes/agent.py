"""The agent's queue membership (签入 / 签出) and pause (示忙 / 示闲), sent to Asterisk through the AMI
bridge. The console never guesses queue member state: it shows what Asterisk reports back as events.

Joining when Asterisk already has the member, or leaving when it does not, succeeds (``already``:
true) and asks the bridge for a fresh ``queue.snapshot``: the board was stale, the agent gets the state
they asked for. Other refusals are HTTP 502 with ``X-Error-Code`` naming their Chinese text."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request

from callcenter.api.deps import SessionDep

from ..asterisk import AsteriskRefused, my_interface, run_command, user_node
from ..deps import CenterUser, hub_of, settings_of
from ..schemas import CommandResult, PauseIn, QueueIn

router = APIRouter(prefix="/api/console", tags=["console"])


@router.post("/agent/queue")
async def agent_queue(
    body: QueueIn, request: Request, user: CenterUser, session: SessionDep
) -> CommandResult:
    """签入 / 签出: join or leave the hotline queue (QueueAdd / QueueRemove)."""
    session.close()  # no transaction held while waiting for Asterisk
    iface = my_interface(user)
    queue = settings_of(request).asterisk.queue
    node = user_node(request, user)
    try:
        if body.join:
            return await run_command(
                request,
                "queue_add",
                node=node,
                interface=iface,
                queue=queue,
                member_name=user.username,
                state_interface=iface,
            )
        return await run_command(request, "queue_remove", node=node, interface=iface, queue=queue)
    except AsteriskRefused as exc:
        # Asterisk says the member is already where the agent wants it: the console's view was stale
        # (e.g. after a restart). That is the wanted state, not an error; the board is re-read from
        # Asterisk so the buttons follow.
        wanted = "ami.already_in_queue" if body.join else "ami.not_in_queue"
        if exc.code != wanted:
            raise
        await hub_of(request).request_snapshots((node,))
        return CommandResult(
            action_id="", result={"ok": True, "already": True, "code": exc.code, "message": exc.message}
        )


@router.post("/agent/pause")
async def agent_pause(
    body: PauseIn, request: Request, user: CenterUser, session: SessionDep
) -> CommandResult:
    """示忙 (with a reason: break / training / after-call work / meeting) and 示闲 (QueuePause)."""
    session.close()
    iface = my_interface(user)
    if body.paused and body.reason is None:
        raise HTTPException(422, "a pause needs a reason")
    args: dict[str, Any] = {"interface": iface, "paused": body.paused}
    if body.paused:
        args["reason"] = body.reason
    node = user_node(request, user)
    try:
        return await run_command(request, "queue_pause", node=node, **args)
    except AsteriskRefused as exc:
        if exc.code == "ami.not_in_queue":  # the board showed a member Asterisk does not have
            await hub_of(request).request_snapshots((node,))
        raise
