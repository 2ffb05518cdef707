"""Login (登录): username + password → bearer token.

Throttled per username and per client address (:mod:`callcenter.login_throttle`: 429 with
``Retry-After``), constant-time for unknown usernames (:func:`callcenter.security.verify_login`), and
every refused login is written to the audit log (:mod:`callcenter.audit`). The answer to a refused
login never says whether the username exists.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy import select

from callcenter import audit
from callcenter.api.deps import CurrentUser, SessionDep, client_address
from callcenter.api.guards import TEXT_RULE, bad_text
from callcenter.api.schemas import Token, UserOut
from callcenter.db.models import User
from callcenter.login_throttle import Lockout, LoginThrottle
from callcenter.security import create_token, verify_login

router = APIRouter(prefix="/api/auth", tags=["auth"])

#: Longest username or password looked at (longer ones are refused without a database query).
MAX_CREDENTIAL_CHARS = 256


def login_throttle(request: Request) -> LoginThrottle:
    """The app's throttle (one Redis connection pool per app, made on first use)."""
    state = request.app.state
    throttle: LoginThrottle | None = getattr(state, "login_throttle", None)
    if throttle is None:
        throttle = LoginThrottle.from_url(state.settings.redis_url, state.settings.security)
        state.login_throttle = throttle
    return throttle


def _too_many(lock: Lockout) -> HTTPException:
    return HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS, lock.message(), headers={"Retry-After": str(lock.seconds)}
    )


@router.post(
    "/token",
    response_model=Token,
    responses={401: {"description": "wrong username or password"}, 429: {"description": "locked out"}},
)
def login(
    session: SessionDep,
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    throttle: Annotated[LoginThrottle, Depends(login_throttle)],
) -> Token:
    username, password = form.username, form.password
    if len(username) > MAX_CREDENTIAL_CHARS or len(password) > MAX_CREDENTIAL_CHARS:
        raise HTTPException(422, f"username and password have at most {MAX_CREDENTIAL_CHARS} characters")
    if bad_text(username) or bad_text(password):
        raise HTTPException(400, f"username and password {TEXT_RULE}")
    address = client_address(request)
    lock = throttle.locked(username, address)
    if lock is not None:
        raise _too_many(lock)
    user = session.scalar(select(User).where(User.username == username))
    password_ok = verify_login(password, user.password_hash if user is not None else None)
    if user is None or not password_ok or not user.active:
        reason = "unknown_user" if user is None else "wrong_password" if not password_ok else "inactive"
        audit.record(
            session,
            audit.LOGIN_FAILED,
            actor_user_id=user.id if user is not None else None,
            actor_name=username,
            client_addr=address,
            detail={"reason": reason},
        )
        lock = throttle.failed(username, address)
        if lock is not None:
            audit.record(
                session,
                audit.LOGIN_LOCKED,
                actor_user_id=user.id if user is not None else None,
                actor_name=username,
                target=lock.scope,
                client_addr=address,
                detail={"scope": lock.scope, "seconds": lock.seconds},
            )
        session.commit()
        if lock is not None:
            raise _too_many(lock)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username or password")
    throttle.succeeded(username)
    return Token(
        access_token=create_token(user.id, user.role),
        role=user.role,
        username=user.username,
        display_name=user.display_name,
        unit_code=user.unit_code,
    )


@router.get("/me", response_model=UserOut)
def me(user: CurrentUser) -> User:
    return user
