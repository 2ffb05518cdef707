"""When a live stream must end (会话失效): its user was deactivated or changed, or its token expired.

An open Server-Sent Events stream was authenticated once, when it was opened. :class:`StreamGuard`
lets it notice later changes: every ``console.stream_recheck_s`` seconds it reads the user again
(:func:`callcenter.api.deps.session_end_reason`: deactivated or deleted, role or unit changed), and at
the login token's ``exp`` it ends the stream. The stream then sends ``event: end`` with the reason and
closes; the browser's reconnect gets 401 and the console returns to the login page. While the database
is unreachable the check is skipped (logged): nobody can deactivate a user then either.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from callcenter.api.deps import session_end_reason
from callcenter.db.session import get_sessionmaker

log = logging.getLogger(__name__)

TOKEN_EXPIRED = "the login token expired"


@dataclass
class StreamGuard:
    database_url: str
    user_id: int
    role: str
    unit_code: str | None
    #: Wall-clock time (epoch seconds) the login token expires at; None = never.
    expires_at: float | None
    every_s: float
    _next_check: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        self._next_check = time.monotonic() + self.every_s

    def seconds_to_next_check(self) -> float:
        """How long the stream may wait before it must call :meth:`end_reason` again."""
        wait = self._next_check - time.monotonic()
        if self.expires_at is not None:
            wait = min(wait, self.expires_at - time.time())
        return max(0.0, wait)

    async def end_reason(self) -> str | None:
        """Why the stream must end now, or None (reads the user when a check is due)."""
        if self.expires_at is not None and time.time() >= self.expires_at:
            return TOKEN_EXPIRED
        if time.monotonic() < self._next_check:
            return None
        self._next_check = time.monotonic() + self.every_s
        return await asyncio.to_thread(self._check_user)

    def _check_user(self) -> str | None:
        try:
            with get_sessionmaker(self.database_url)() as session:
                return session_end_reason(session, self.user_id, self.role, self.unit_code)
        except Exception as exc:  # database unreachable: no one can deactivate a user now either
            log.warning("live stream: cannot re-check user %s (%s); checking again later", self.user_id, exc)
            return None
