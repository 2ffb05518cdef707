"""Per-address rate limit of the public intake (防刷): a fixed window counted in Redis.

Every API process counts in the same Redis keys (``cc:intake:rate:<scope>:<hash>``), so the limit
holds behind several workers. Addresses are hashed into the key. Redis unreachable: submissions are
**not** limited (fail open) and a warning is logged — a citizen's report matters more than a flood
that the body limit and the honeypot still slow down.
"""

from __future__ import annotations

import hashlib
import logging
import time

import redis

from callcenter.plugins.webform.exceptions import RateLimited

log = logging.getLogger(__name__)

KEY_PREFIX = "cc:intake:rate:"
_last_warning = 0.0


def key(scope: str, ident: str) -> str:
    return f"{KEY_PREFIX}{scope}:{hashlib.sha256(ident.encode('utf-8', 'replace')).hexdigest()[:32]}"


def hit(client: redis.Redis, scope: str, ident: str, limit: int, window_s: int) -> None:
    """Count one request of ``ident``; raise :class:`RateLimited` past ``limit`` in the window."""
    global _last_warning
    k = key(scope, ident)
    try:
        pipe = client.pipeline(transaction=True)
        pipe.incr(k)
        pipe.expire(k, window_s, nx=True)
        pipe.ttl(k)
        count, _, ttl = pipe.execute()
    except redis.RedisError as exc:
        now = time.monotonic()
        if now - _last_warning > 60:
            _last_warning = now
            log.warning("intake rate limit: redis unavailable, not limiting (%s)", exc)
        return
    if int(count) > limit:
        retry = max(1, int(ttl))
        raise RateLimited(
            f"提交过于频繁，请 {retry} 秒后再试 / too many submissions from this address "
            f"({limit} per {window_s} s): try again in {retry} s",
            retry,
        )
