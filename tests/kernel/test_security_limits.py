"""Request size (issue 12, item 2): the body limit counts the bytes received, before authentication and
parsing; validation errors never echo more than a short excerpt of the input.

The memory tests run the real ``callcenter serve`` process and read its resident set (VmHWM, the peak,
from /proc) around a chunked multi-hundred-megabyte upload.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from callcenter.api.app import create_app
from callcenter.config import SecuritySettings, Settings
from tests.kernel.conftest import Login, make_client
from tests.kernel.live_api import raw_post, serve

LIMIT = 1_000_000
MIB = 1024 * 1024


def _chunks(total: int, size: int = 64 * 1024, fill: bytes = b"a") -> Iterator[bytes]:
    chunk = fill * size
    for _ in range(total // size):
        yield chunk


@pytest.fixture
def live(seeded_sqlite: str, redis_url: str, tmp_path: Path) -> Iterator[Any]:
    with serve(seeded_sqlite, redis_url, tmp_path) as server:
        yield server


def _token(base: str, username: str) -> str:
    import httpx

    from tests.kernel.conftest import PASSWORD

    r = httpx.post(f"{base}/api/auth/token", data={"username": username, "password": PASSWORD})
    r.raise_for_status()
    return str(r.json()["access_token"])


@pytest.mark.slow
@pytest.mark.parametrize(
    ("content_type", "with_token"),
    [("application/json", False), ("application/json", True), ("application/octet-stream", False)],
)
def test_chunked_300_mb_post_is_413_quickly_and_memory_stays_flat(
    live: Any, content_type: str, with_token: bool
) -> None:
    headers = {"Content-Type": content_type}
    if with_token:
        headers["Authorization"] = f"Bearer {_token(live.base, 'agent1')}"
    _rss, peak_before = live.memory_kib()
    reply = raw_post(live.port, "/api/cases", headers, _chunks(300 * MIB), chunked=True)
    _rss, peak_after = live.memory_kib()
    growth_mib = (peak_after - peak_before) / 1024
    assert growth_mib < 40, f"server peak RSS grew by {growth_mib:.0f} MiB (answer {reply.head[:40]!r})"
    assert reply.status == 413, (reply.head, reply.body[:200], reply.sent_bytes)
    assert json.loads(reply.body) == {"detail": f"request body over {LIMIT} bytes"}
    assert reply.seconds < 20
    assert reply.sent_bytes < 100 * MIB  # the server stopped reading long before the end


@pytest.mark.slow
def test_lying_content_length_cannot_grow_memory(live: Any) -> None:
    # declares a small body, then keeps sending: the server reads 10 bytes as the body and refuses
    # the rest as a malformed next request; it never buffers the 200 MB
    _rss, peak_before = live.memory_kib()
    headers = {"Content-Type": "application/json", "Content-Length": "10"}
    reply = raw_post(live.port, "/api/cases", headers, _chunks(200 * MIB), chunked=False)
    _rss, peak_after = live.memory_kib()
    assert reply.status is not None and 400 <= reply.status < 500, reply.head
    assert (peak_after - peak_before) / 1024 < 40


@pytest.mark.slow
def test_declared_length_over_the_limit_is_refused_before_any_byte(live: Any) -> None:
    headers = {"Content-Type": "application/json", "Content-Length": str(50 * MIB)}
    reply = raw_post(live.port, "/api/auth/token", headers, iter(()), chunked=False, timeout=10)
    assert reply.status == 413 and reply.seconds < 5
    assert b"connection: close" in reply.head.lower()


def _asgi_post(app: Any, headers: list[tuple[bytes, bytes]], parts: list[bytes]) -> tuple[int, bytes]:
    """Drive the app at the ASGI level: the body arrives in ``parts`` whatever the headers say."""
    messages: list[dict[str, Any]] = []
    pending = list(parts)

    async def receive() -> dict[str, Any]:
        if pending:
            body = pending.pop(0)
            return {"type": "http.request", "body": body, "more_body": bool(pending)}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/cases",
        "raw_path": b"/api/cases",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    asyncio.run(app(scope, receive, send))
    start = next(m for m in messages if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return int(start["status"]), body


@pytest.mark.parametrize("content_type", [b"application/json", b"application/octet-stream"])
def test_body_longer_than_its_content_length_is_cut_off(
    seeded_sqlite: str, redis_url: str, content_type: bytes
) -> None:
    """A server that passed more bytes than Content-Length announced: the count, not the header, rules."""
    app = create_app(
        Settings(mode="test", database_url=seeded_sqlite, redis_url=redis_url), start_relay=False
    )
    headers = [(b"content-type", content_type), (b"content-length", b"10")]
    status, body = _asgi_post(app, headers, [b"x" * 256 * 1024] * 8)  # 2 MiB
    assert status == 413, body[:300]
    assert json.loads(body) == {"detail": f"request body over {LIMIT} bytes"}


def test_the_limit_is_a_setting(seeded_sqlite: str, redis_url: str) -> None:
    settings = Settings(
        mode="test",
        database_url=seeded_sqlite,
        redis_url=redis_url,
        security=SecuritySettings(max_body_bytes=4096),
    )
    with TestClient(create_app(settings, start_relay=False)) as c:
        r = c.post(
            "/api/cases", content=b"{" + b" " * 5000 + b"}", headers={"Content-Type": "application/json"}
        )
        assert r.status_code == 413 and r.json() == {"detail": "request body over 4096 bytes"}
        r = c.post("/api/cases", content=b"{}", headers={"Content-Type": "application/json"})
        assert r.status_code == 401  # under the limit: on to authentication


# --------------------------------------------------------------------------- 422 without echo


@pytest.fixture
def client(seeded_sqlite: str, redis_url: str) -> Iterator[TestClient]:
    with make_client(seeded_sqlite, redis_url) as c:
        yield c


@pytest.fixture
def auth(client: TestClient) -> Login:
    from tests.kernel.conftest import PASSWORD

    def login(username: str) -> dict[str, str]:
        r = client.post("/api/auth/token", data={"username": username, "password": PASSWORD})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    return login


def test_validation_error_echoes_only_an_excerpt_of_a_long_text(client: TestClient, auth: Login) -> None:
    long_text = "噪" * 300_000  # 900 KB of UTF-8, under the 1 MB body limit, over max_length 20,000
    r = client.post("/api/cases", json={"description": long_text}, headers=auth("agent1"))
    assert r.status_code == 422
    assert len(r.content) < 2000, len(r.content)
    (err,) = r.json()["detail"]
    assert err["loc"] == ["body", "description"] and err["type"] == "string_too_long"
    assert err["input"].startswith("噪" * 80) and len(err["input"]) <= 81
    assert err["ctx"] == {"max_length": 20000}


def test_validation_error_of_a_whole_body_is_an_excerpt(client: TestClient, auth: Login) -> None:
    body = [{"description": "x" * 1000}] * 500  # a list where an object belongs: input = the whole body
    r = client.post("/api/cases", json=body, headers=auth("agent1"))
    assert r.status_code == 422
    assert len(r.content) < 2000, len(r.content)


def test_validation_error_with_many_unknown_fields_is_bounded(client: TestClient, auth: Login) -> None:
    body = {"description": "路灯不亮", **{f"field_{i}_" + "k" * 200: "v" * 200 for i in range(2000)}}
    r = client.post("/api/cases", json=body, headers=auth("agent1"))
    assert r.status_code == 422
    assert len(r.content) < 20_000, len(r.content)


def test_malformed_json_answers_422_without_the_document(client: TestClient, auth: Login) -> None:
    body = b'{"description": "' + b"z" * 500_000 + b'"'  # unterminated
    r = client.post(
        "/api/cases", content=body, headers={**auth("agent1"), "Content-Type": "application/json"}
    )
    assert r.status_code == 422
    assert len(r.content) < 2000


@pytest.mark.parametrize("path", ["/api/cases/{}", "/api/console/cases/{}/actions", "/api/calls/{}"])
def test_error_messages_quote_at_most_an_excerpt_of_the_input(
    client: TestClient, auth: Login, path: str
) -> None:
    r = client.get(path.format("7" * 8000), headers=auth("super1"))
    assert r.status_code == 404, r.text[:200]
    assert len(r.json()["detail"]) <= 301, len(r.json()["detail"])
