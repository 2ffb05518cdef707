"""FastAPI dependencies: database session, current user, role checks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from fastapi.security.utils import get_authorization_scheme_param
from sqlalchemy.orm import Session

from callcenter.db.models import User
from callcenter.db.session import get_sessionmaker
from callcenter.db.types import MAX_DB_INT
from callcenter.domain.workflow import Actor, Role
from callcenter.security import decode_token

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)


def get_db(request: Request) -> Iterator[Session]:
    session = get_sessionmaker(request.app.state.settings.database_url)()
    try:
        yield session
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_db)]


def request_token(request: Request) -> str | None:
    """The login token of a request: the bearer header, else ``?token=`` (EventSource cannot send
    headers), else the ``cc_token`` cookie."""
    scheme, bearer = get_authorization_scheme_param(request.headers.get("authorization"))
    if scheme.lower() == "bearer" and bearer:
        return bearer
    return request.query_params.get("token") or request.cookies.get("cc_token")


def get_current_user(
    session: SessionDep, request: Request, token: Annotated[str | None, Depends(oauth2)]
) -> User:
    token = token or request_token(request)
    if not token:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "not authenticated", {"WWW-Authenticate": "Bearer"})
    try:
        claims = decode_token(token)
        user_id = int(claims["sub"])
        if not 1 <= user_id <= MAX_DB_INT:
            raise ValueError("user id out of range")
    except (jwt.PyJWTError, KeyError, ValueError, TypeError) as exc:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid or expired token") from exc
    user = session.get(User, user_id)
    if user is None or not user.active:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown or inactive user")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def require_roles(*roles: str) -> Callable[[User], User]:
    """Dependency factory: the current user must have one of ``roles`` (admin always may)."""

    def check(user: CurrentUser) -> User:
        if user.role not in roles and user.role != Role.ADMIN:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"role {user.role} may not do this")
        return user

    return check


def client_address(request: Request) -> str | None:
    """The client's address as the server sees it (behind a reverse proxy: the forwarded one when
    uvicorn trusts the proxy, ``FORWARDED_ALLOW_IPS``)."""
    return request.client.host if request.client else None


def actor_of(user: User) -> Actor:
    return Actor(role=Role(user.role), user_id=user.id, unit_code=user.unit_code)


def session_end_reason(session: Session, user_id: int, role: str, unit_code: str | None) -> str | None:
    """Why a long-lived connection (a live stream) opened by this user must end now — the user was
    deactivated or deleted, or its role or unit changed — or None while it may go on."""
    session.expire_all()
    user = session.get(User, user_id)
    if user is None or not user.active:
        return "the user is no longer active"
    if user.role != role or user.unit_code != unit_code:
        return "the user's role or unit changed"
    return None
