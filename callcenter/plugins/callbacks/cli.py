"""``callcenter callbacks …``: inspect and schedule callbacks, manage the do-not-call list."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

import typer

callbacks_app = typer.Typer(help="Callbacks and return visits (回拨 / 回访).", no_args_is_help=True)
dnc_app = typer.Typer(help="Do-not-call list (免打扰名单).", no_args_is_help=True)
callbacks_app.add_typer(dnc_app, name="dnc")


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


@callbacks_app.command("list")
def list_cmd(
    status: Annotated[str | None, typer.Option(help="scheduled|in_progress|done|failed|cancelled")] = None,
    kind: Annotated[str | None, typer.Option(help="queue_callback|return_visit")] = None,
    limit: int = 50,
) -> None:
    """Callbacks with status, attempts and outcome (JSON lines)."""
    from callcenter.config import get_settings
    from callcenter.db.session import session_scope
    from callcenter.services.callbacks import list_callbacks

    with session_scope(get_settings().database_url) as s:
        for row in list_callbacks(s, status=status, kind=kind, limit=limit):
            typer.echo(json.dumps(row, ensure_ascii=False))


@callbacks_app.command("schedule")
def schedule_cmd(
    phone: Annotated[str, typer.Option(help="number to call")],
    at: Annotated[str | None, typer.Option(help="ISO time with zone (default now)")] = None,
    key: Annotated[str | None, typer.Option(help="idempotency key (default cli:<phone>:<minute>)")] = None,
) -> None:
    """Schedule a callback (预约回拨) to ``phone``."""
    from callcenter.config import get_settings
    from callcenter.db.session import session_scope
    from callcenter.services.callbacks import schedule

    when = datetime.now(UTC)
    if at:
        try:
            when = datetime.fromisoformat(at)
        except ValueError:
            _fail(f"--at {at!r} is not an ISO time")
        if when.tzinfo is None:
            _fail("--at must include a time zone, e.g. 2026-11-23T09:00+08:00")
    settings = get_settings()
    with session_scope(settings.database_url) as s:
        try:
            cb, created = schedule(
                s,
                kind="queue_callback",
                key=key or f"cli:{phone}:{when.astimezone(UTC):%Y%m%d%H%M}",
                phone=phone,
                at=when,
                requested_at=when,
                max_attempts=settings.callbacks.max_attempts,
                outcome={"source": "cli"},
            )
        except ValueError as exc:
            _fail(str(exc))
        typer.echo(json.dumps({"id": cb.id, "created": created, "status": cb.status}))


@callbacks_app.command("return-visit")
def return_visit_cmd(case_number: str) -> None:
    """Schedule the return visit (回访) of a closed case now (idempotent per closing)."""
    from callcenter.config import get_settings
    from callcenter.db.session import session_scope
    from callcenter.services.callbacks import schedule_return_visit

    settings = get_settings()
    with session_scope(settings.database_url) as s:
        cb, why = schedule_return_visit(s, case_number, settings, datetime.now(UTC))
        if cb is None:
            _fail(why)
        assert cb is not None
        typer.echo(json.dumps({"id": cb.id, "result": why, "key": cb.idempotency_key}))


@callbacks_app.command("tick")
def tick_cmd() -> None:
    """Run one dialler round (schedule, results, claims, commands) and print what it did."""
    from dataclasses import asdict

    from callcenter.config import get_settings
    from callcenter.events import redis_client
    from callcenter.plugins.callbacks.dialler import Dialler

    settings = get_settings()
    stats = Dialler(settings, redis_client(settings.redis_url)).tick()
    typer.echo(json.dumps(asdict(stats)))


@dnc_app.command("add")
def dnc_add(phone: str, reason: Annotated[str, typer.Option()] = "") -> None:
    from callcenter.config import get_settings
    from callcenter.db.session import session_scope
    from callcenter.services.callbacks import add_do_not_call

    with session_scope(get_settings().database_url) as s:
        try:
            typer.echo(add_do_not_call(s, phone, reason))
        except ValueError as exc:
            _fail(str(exc))


@dnc_app.command("remove")
def dnc_remove(phone: str) -> None:
    from callcenter.config import get_settings
    from callcenter.db.session import session_scope
    from callcenter.services.callbacks import remove_do_not_call

    with session_scope(get_settings().database_url) as s:
        try:
            removed = remove_do_not_call(s, phone)
        except ValueError as exc:
            _fail(str(exc))
        typer.echo("removed" if removed else "not listed")


def register(app: typer.Typer) -> None:
    app.add_typer(callbacks_app, name="callbacks")
