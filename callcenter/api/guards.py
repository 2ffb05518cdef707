"""Request guard (请求防护): the outermost layer of the API, before authentication, routing and parsing.

A pure ASGI middleware (:class:`RequestGuard`, installed by :class:`callcenter.api.app.CallCenterAPI`
outside every other layer) that refuses, with a short JSON message:

* **413** — a body over ``security.max_body_bytes``, counted on the bytes actually received: a declared
  ``Content-Length`` over the limit is refused before any byte is read, a chunked body or one longer
  than its ``Content-Length`` is cut off as soon as the count passes the limit. Memory stays bounded by
  the limit whatever the client sends (the server stops reading when nobody asks for more).
* **400** — text the databases cannot store or that is not text at all: a URL path, query string,
  JSON or form body that is not valid UTF-8, or that holds a NUL character or an unpaired surrogate
  (``\\u0000``, ``\\ud800`` — JSON escapes as well as raw bytes; PostgreSQL refuses NUL in text and
  neither database nor Redis can encode a lone surrogate).

JSON and form bodies are read whole (at most the limit) so their text can be checked before the app
sees them; other bodies stream through with the byte count.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

#: A NUL character or an unpaired surrogate (UTF-16 halves that UTF-8 cannot encode).
_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")
#: JSON escapes that can decode to a NUL or a surrogate half (a valid pair is checked after decoding).
_SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")
TEXT_RULE = "must be valid UTF-8 text without NUL characters or unpaired surrogates"


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` once a streamed body passes the limit (the guard answers 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large_message(limit))


def too_large_message(limit: int) -> str:
    return f"request body over {limit} bytes"


def bad_text(value: str) -> bool:
    """True when ``value`` holds a NUL character or an unpaired surrogate."""
    return _BAD_TEXT.search(value) is not None


def _decoded_ok(raw: bytes) -> bool:
    try:
        text = raw.decode("utf-8")  # strict: encoded surrogates (ED A0 80) are refused here
    except UnicodeDecodeError:
        return False
    return "\x00" not in text


def urlencoded_ok(raw: bytes) -> bool:
    """A query string or form body: every percent-decoded name and value is strict UTF-8 without NUL."""
    for pair in raw.split(b"&"):
        for part in pair.split(b"=", 1):
            if not _decoded_ok(unquote_to_bytes(part.replace(b"+", b" "))):
                return False
    return True


def json_ok(raw: bytes) -> bool:
    """A JSON body: strict UTF-8, and no string (key or value) decodes to a NUL or a lone surrogate.

    Malformed JSON passes: the app answers it with its own 422.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    if _SUSPECT_ESCAPE.search(raw) is None:
        return True
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        return True
    stack: list[Any] = [doc]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if bad_text(item):
                return False
        elif isinstance(item, dict):
            for key, value in item.items():
                if bad_text(key):
                    return False
                stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)
    return True


def _body_kind(headers: Headers) -> str | None:
    """``json`` / ``form`` for bodies whose text is checked, None for bodies that only stream."""
    ctype = headers.get("content-type")
    if ctype is None:
        return "json"  # FastAPI may parse a body without a content type as JSON
    media = ctype.split(";", 1)[0].strip().lower()
    if media == "application/x-www-form-urlencoded":
        return "form"
    if media.startswith("application/") and (media.endswith("/json") or media.endswith("+json")):
        return "json"
    return None


async def _reply(send: Send, status: int, detail: str, *, close: bool = False) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RequestGuard:
    """Pure ASGI middleware: body size limit on received bytes, strict text in URL and bodies."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, path_limits: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        #: Larger limits for a few upload routes (path prefix → bytes), e.g. grid worker photos. Such
        #: bodies are multipart: they stream through with the byte count against the larger limit.
        self.path_limits = dict(path_limits or {})

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.path_limits.items():
            if path.startswith(prefix):
                return limit
        return self.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_path = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogatepass")
        if not _decoded_ok(unquote_to_bytes(raw_path)):
            await _reply(send, 400, f"the URL path {TEXT_RULE}")
            return
        if not urlencoded_ok(scope.get("query_string", b"")):
            await _reply(send, 400, f"the query string {TEXT_RULE}")
            return
        headers = Headers(scope=scope)
        limit = self.limit_for(scope["path"])
        declared = headers.get("content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            await _reply(send, 413, too_large_message(limit), close=True)
            return
        has_body = declared is not None or "transfer-encoding" in headers
        kind = _body_kind(headers) if has_body else None
        if kind is None:
            await self._stream(scope, receive, send)
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > limit:
                await _reply(send, 413, too_large_message(limit), close=True)
                return
            more = message.get("more_body", False)
        if body and not (json_ok(bytes(body)) if kind == "json" else urlencoded_ok(bytes(body))):
            await _reply(send, 400, f"the request body {TEXT_RULE}")
            return
        await self.app(scope, _replay(bytes(body), receive), send)

    async def _stream(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.limit_for(scope["path"])
        received = 0
        exceeded = False
        started = False

        async def counted_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                raise BodyTooLarge(limit)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise BodyTooLarge(limit)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return  # whatever the app answers to a cut-off body, the answer is our 413
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not exceeded:
                raise
            log.debug("request body cut off at %d bytes", limit, exc_info=True)
        if exceeded and not started:
            await _reply(send, 413, too_large_message(limit), close=True)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that yields the body read by the guard, then waits on the real one (disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
