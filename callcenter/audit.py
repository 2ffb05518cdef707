"""Security audit log (安全审计日志): who did what, from where, when — the ``audit_log`` table.

One kernel facility for every security-relevant record: failed logins and lockouts today; access to
personal data and admin edits later. :func:`record` adds a row to the caller's session, so it commits
(or rolls back) with the change it describes; a caller that refuses a request (a failed login) commits
the record itself before answering. Rows are never updated or deleted by the application.

Actions are dotted names, ``<area>.<event>`` (:data:`LOGIN_FAILED`, :data:`LOGIN_LOCKED`, …); ``detail``
holds small JSON facts (a reason code, a count), never secrets or whole request bodies.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from callcenter.db.base import utcnow
from callcenter.db.models import AuditEntry

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from callcenter.db.models import User

LOGIN_FAILED = "login.failed"
"""A login was refused: ``detail.reason`` is ``unknown_user``, ``wrong_password`` or ``inactive``."""
LOGIN_LOCKED = "login.locked"
"""Too many failed logins: a username or a client address is locked out (``detail.scope``,
``detail.seconds``)."""
SEED_RULES = "seed.rules"
"""``callcenter seed`` changed the catalogue's responsibility rules (``detail``: added, updated, deleted);
routing's cache of the rules watches it (an edit in the admin screen is an ``admin.rule.*`` row)."""


def _cut(value: str | None, length: int) -> str | None:
    return None if value is None else value[:length]


def record(
    session: Session,
    action: str,
    *,
    actor: User | None = None,
    actor_user_id: int | None = None,
    actor_name: str | None = None,
    target: str | None = None,
    client_addr: str | None = None,
    detail: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditEntry:
    """Add one audit row to ``session`` (committed with the caller's transaction).

    ``actor`` fills ``actor_user_id`` and ``actor_name`` from a user; without one, pass what is known
    (e.g. only the username typed at a failed login). Text is cut to the column sizes.
    """
    if actor is not None:
        actor_user_id = actor.id if actor_user_id is None else actor_user_id
        actor_name = actor.username if actor_name is None else actor_name
    entry = AuditEntry(
        at=at or utcnow(),
        actor_user_id=actor_user_id,
        actor_name=_cut(actor_name, 64) or "",
        action=action[:64],
        target=_cut(target, 256),
        client_addr=_cut(client_addr, 64),
        detail=dict(detail or {}),
    )
    session.add(entry)
    return entry


def entries(
    session: Session,
    *,
    action: str | None = None,
    actor_name: str | None = None,
    since: datetime | None = None,
    limit: int = 100,
) -> Sequence[AuditEntry]:
    """The newest audit rows first, optionally of one action / actor name / since a time."""
    stmt = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    if action is not None:
        stmt = stmt.where(AuditEntry.action == action)
    if actor_name is not None:
        stmt = stmt.where(AuditEntry.actor_name == actor_name)
    if since is not None:
        stmt = stmt.where(AuditEntry.at >= since)
    return session.scalars(stmt).all()
