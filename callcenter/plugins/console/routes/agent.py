"""The agent's queue membership (签入 / 签出) and pause (示忙 / 示闲), sent to Asterisk through the AMI
bridge. The console never guesses queue member state: it shows what Asterisk reports back as events."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request

from callcenter.api.deps import SessionDep

from ..asterisk import my_interface, run_command, user_node
from ..deps import CenterUser, settings_of
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
    if body.join:
        return await run_command(
            request,
            "queue_add",
            node=user_node(request, user),
            interface=iface,
            queue=queue,
            member_name=user.username,
            state_interface=iface,
        )
    return await run_command(
        request, "queue_remove", node=user_node(request, user), interface=iface, queue=queue
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
    return await run_command(request, "queue_pause", node=user_node(request, user), **args)
