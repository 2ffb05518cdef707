"""HTTP routes of the browser softphone, under ``/api/softphone``.

* ``POST /api/softphone/credentials`` — issue this login's SIP password of the user's extension and
  the connection details (WebSocket URL, SIP URI); ``Cache-Control: no-store``. The page script calls it
  after login; the password is never part of a page.
* ``DELETE /api/softphone/credentials`` — revoke it (logout): the endpoint leaves Asterisk.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response, status
from pydantic import BaseModel, Field

from callcenter.api.deps import CurrentUser, SessionDep
from callcenter.config import Settings

from .credentials import SoftphoneError, issue, revoke

router = APIRouter(prefix="/api/softphone", tags=["softphone"])

#: Roles that take or supervise calls from the console.
PHONE_ROLES = frozenset({"agent", "supervisor", "admin"})


class SoftphoneConfig(BaseModel):
    """What the browser's SIP user agent needs (JsSIP ``UA`` configuration)."""

    extension: str
    authorization_user: str
    password: str = Field(description="random, issued for this login only")
    uri: str = Field(description="SIP address of record, sip:<extension>@<domain>")
    ws_url: str = Field(description="secure WebSocket of Asterisk (SIP over WSS)")
    display_name: str
    expires_at: float
    auto_answer: bool
    role: str
    warning: str | None = Field(
        default=None, description="Asterisk could not be told yet (down?): registration fails until it is up"
    )


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _extension(settings: Settings, user: Any) -> str:
    if user.role not in PHONE_ROLES:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"role {user.role} has no phone")
    ext = (user.extension or "").strip()
    if not ext:
        raise HTTPException(status.HTTP_409_CONFLICT, "your user has no extension: ask an admin to set one")
    if ext not in settings.softphone.extensions:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"extension {ext} is a hard SIP phone, not a browser softphone (softphone.extensions)",
        )
    return ext


def _redis(settings: Settings) -> Any:
    from callcenter.events import redis_client

    return redis_client(settings.redis_url)


@router.post("/credentials", response_model=SoftphoneConfig)
async def credentials(request: Request, response: Response, user: CurrentUser, session: SessionDep) -> Any:
    """Issue the softphone password of this login (a new login replaces the previous password)."""
    settings = _settings(request)
    ext = _extension(settings, user)
    username, display, role = user.username, user.display_name or user.username, user.role
    session.close()
    client = _redis(settings)
    try:
        cred, warning = await asyncio.to_thread(issue, settings, client, ext, username)
    except SoftphoneError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from exc
    except Exception as exc:  # Redis down
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"softphone unavailable: {exc}") from exc
    finally:
        client.close()
    host = request.url.hostname or "127.0.0.1"
    sp = settings.softphone
    response.headers["Cache-Control"] = "no-store"
    return SoftphoneConfig(
        extension=ext,
        authorization_user=ext,
        password=cred.password,
        uri=f"sip:{ext}@{sp.sip_domain or host}",
        ws_url=sp.ws_url or f"wss://{host}:{sp.wss_port}/ws",
        display_name=display,
        expires_at=cred.expires_at,
        auto_answer=sp.auto_answer,
        role=role,
        warning=warning,
    )


@router.delete("/credentials", status_code=status.HTTP_204_NO_CONTENT)
async def drop_credentials(request: Request, user: CurrentUser, session: SessionDep) -> None:
    """Revoke this extension's softphone password (the console's logout)."""
    settings = _settings(request)
    ext = _extension(settings, user)
    session.close()
    client = _redis(settings)
    try:
        await asyncio.to_thread(revoke, settings, client, ext)
    except SoftphoneError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from exc
    finally:
        client.close()
