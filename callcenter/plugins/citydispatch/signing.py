"""Request signatures between the center and an upstream platform (签名): HMAC-SHA256, both ways.

The signed text is ``timestamp \\n nonce \\n METHOD \\n path \\n body`` (body as sent, bytes); headers
``X-Partner``, ``X-Timestamp`` (Unix seconds), ``X-Nonce`` (8–64 of ``[A-Za-z0-9_-]``) and
``X-Signature`` (lower-case hex). The receiver refuses a timestamp more than the window away from
its clock and a nonce it has seen (replay). Push-backs to the partner are signed the same way with
the same key, so the partner can check they come from us.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time

NONCE_RE = re.compile(r"^[A-Za-z0-9_\-]{8,64}$")


def signature(key: str, timestamp: str, nonce: str, method: str, path: str, body: bytes) -> str:
    text = f"{timestamp}\n{nonce}\n{method.upper()}\n{path}\n".encode() + body
    return hmac.new(key.encode(), text, hashlib.sha256).hexdigest()


def sign_headers(partner: str, key: str, method: str, path: str, body: bytes) -> dict[str, str]:
    ts = str(int(time.time()))
    nonce = secrets.token_hex(16)
    return {
        "X-Partner": partner,
        "X-Timestamp": ts,
        "X-Nonce": nonce,
        "X-Signature": signature(key, ts, nonce, method, path, body),
        "Content-Type": "application/json",
    }


def valid(key: str, headers: dict[str, str], method: str, path: str, body: bytes) -> bool:
    given = headers.get("x-signature", "")
    expected = signature(key, headers.get("x-timestamp", ""), headers.get("x-nonce", ""), method, path, body)
    return hmac.compare_digest(given.encode(), expected.encode())
