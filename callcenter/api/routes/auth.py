"""Login (登录): username + password → bearer token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy import select

from callcenter.api.deps import CurrentUser, SessionDep
from callcenter.api.schemas import Token, UserOut
from callcenter.db.models import User
from callcenter.security import create_token, verify_password

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post("/token", response_model=Token)
def login(session: SessionDep, form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> Token:
    user = session.scalar(select(User).where(User.username == form.username))
    if user is None or not user.active or not verify_password(form.password, user.password_hash):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username or password")
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
