"""Login throttling (登录限流): lock out a username or a client address after repeated failed logins.

State lives in Redis, so every API worker (``serve --workers N``, several hosts) counts the same
failures. Per key — one username, one client address — failed logins are counted in a fixed window
(``security.login_window_s``); the N-th failure (``login_max_failures_per_user`` / ``_per_address``)
locks the key for ``login_lockout_s``, doubled for each further lockout of that key within a day, up to
``login_lockout_max_s``. While a key is locked every login for it answers 429 with ``Retry-After`` —
also with the right password — without checking the password (no argon2 work for an attacker). A
successful login clears its username's failure count (not the address's).

Redis unreachable: logins are **not** throttled (fail open) and a warning is logged (at most once a
minute); logins keep working and failed ones are still written to the audit log. After an error the
throttle leaves Redis alone for :data:`SKIP_AFTER_ERROR_S`, so a hanging Redis delays one login by its
0.5 s timeout, not every login. Throttling without
Redis would need shared state the database would have to provide on every login attempt, and a locked
hotline center during a Redis outage is worse than an unthrottled one for its duration.

Keys (all under :data:`KEY_PREFIX`): ``fail:<scope>:<id>`` (count, expires with the window),
``lock:<scope>:<id>`` (expires with the lockout), ``strikes:<scope>:<id>`` (lockouts of the last day).
Usernames are hashed into the key, so any text a client types makes a short key.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import redis

if TYPE_CHECKING:
    from callcenter.config import SecuritySettings

log = logging.getLogger(__name__)

#: Every Redis key of the login throttle starts with this.
KEY_PREFIX = "cc:login:"
#: How long the number of lockouts of a key is remembered (for the doubling).
STRIKES_TTL_S = 24 * 3600
WARN_EVERY_S = 60.0
#: After a Redis error, logins skip Redis this long (a hanging Redis costs one timeout, not one per login).
SKIP_AFTER_ERROR_S = 5.0

# Count one failure; on the N-th, start a lockout (doubling per strike) and reset the count.
# KEYS: fail, lock, strikes.  ARGV: max failures, window s, first lockout s, longest lockout s, strikes ttl.
_FAIL_SCRIPT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
if n < tonumber(ARGV[1]) then return 0 end
redis.call('DEL', KEYS[1])
local s = redis.call('INCR', KEYS[3])
redis.call('EXPIRE', KEYS[3], ARGV[5])
local secs = math.floor(math.min(tonumber(ARGV[3]) * 2 ^ (s - 1), tonumber(ARGV[4])))
redis.call('SET', KEYS[2], '1', 'EX', secs)
return secs
"""


@dataclass(frozen=True)
class Lockout:
    """A username (``scope="user"``) or client address (``"address"``) locked for ``seconds`` more."""

    scope: str
    seconds: int

    def message(self) -> str:
        return (
            f"登录失败次数过多，请 {self.seconds} 秒后再试 / "
            f"too many failed logins: try again in {self.seconds} s"
        )


def _user_id(username: str) -> str:
    return hashlib.sha256(username.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class LoginThrottle:
    """Failed-login counters and lockouts in Redis (see the module docstring)."""

    def __init__(self, client: redis.Redis, policy: SecuritySettings) -> None:
        self.client = client
        self.policy = policy
        self._fail = client.register_script(_FAIL_SCRIPT)
        self._warned_at = -math.inf
        self._skip_until = -math.inf

    @classmethod
    def from_url(cls, url: str, policy: SecuritySettings) -> LoginThrottle:
        """A throttle with short Redis timeouts and no retries: an outage must not hold a login."""
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        client = redis.Redis.from_url(
            url, socket_timeout=0.5, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0)
        )
        return cls(client, policy)

    def _keys(self, username: str, address: str | None) -> list[tuple[str, str, int]]:
        """(scope, id, max failures) of the keys a login attempt counts against."""
        keys = [("user", _user_id(username), self.policy.login_max_failures_per_user)]
        if address:
            keys.append(("address", address[:64], self.policy.login_max_failures_per_address))
        return keys

    def _skipping(self) -> bool:
        return time.monotonic() < self._skip_until

    def _unavailable(self, exc: Exception) -> None:
        now = time.monotonic()
        self._skip_until = now + SKIP_AFTER_ERROR_S
        if now - self._warned_at >= WARN_EVERY_S:
            self._warned_at = now
            log.warning(
                "login throttling is off while Redis is unreachable (logins are not limited): %s", exc
            )

    def locked(self, username: str, address: str | None) -> Lockout | None:
        """The longest lockout in force for this username or address; None when free or Redis is down."""
        if self._skipping():
            return None
        keys = self._keys(username, address)
        try:
            pipe = self.client.pipeline(transaction=False)
            for scope, ident, _ in keys:
                pipe.pttl(f"{KEY_PREFIX}lock:{scope}:{ident}")
            ttls = pipe.execute()
        except redis.RedisError as exc:
            self._unavailable(exc)
            return None
        found = [
            Lockout(scope, math.ceil(int(ms) / 1000))
            for (scope, _, _), ms in zip(keys, ttls, strict=True)
            if ms > 0
        ]
        return max(found, key=lambda lock: lock.seconds, default=None)

    def failed(self, username: str, address: str | None) -> Lockout | None:
        """Count a failed login; the longest lockout it started, if it started one."""
        p = self.policy
        started: list[Lockout] = []
        if self._skipping():
            return None
        try:
            for scope, ident, max_failures in self._keys(username, address):
                base = f"{KEY_PREFIX}{{}}:{scope}:{ident}"
                seconds = int(
                    self._fail(
                        keys=[base.format("fail"), base.format("lock"), base.format("strikes")],
                        args=[
                            max_failures,
                            p.login_window_s,
                            p.login_lockout_s,
                            p.login_lockout_max_s,
                            STRIKES_TTL_S,
                        ],
                    )
                )
                if seconds > 0:
                    started.append(Lockout(scope, seconds))
        except redis.RedisError as exc:
            self._unavailable(exc)
        return max(started, key=lambda lock: lock.seconds, default=None)

    def succeeded(self, username: str) -> None:
        """A successful login clears the failure count of its username."""
        if self._skipping():
            return
        try:
            self.client.delete(f"{KEY_PREFIX}fail:user:{_user_id(username)}")
        except redis.RedisError as exc:
            self._unavailable(exc)
