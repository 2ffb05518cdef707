"""A small simulated upstream 12345 platform (模拟市级平台) for the tests and the demo.

:class:`Upstream` pushes signed orders to the center; :class:`CallbackReceiver` is the platform's
callback endpoint — a real HTTP server on a local port that checks each push-back's signature,
drops a repeated ``delivery_id`` (as a real partner should) and records what arrived, and can be
taken down and brought back (``stop()`` / ``start()``) to play an outage.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import httpx

from callcenter.plugins.citydispatch import signing

ORDERS_PATH = "/api/city/orders"


class Upstream:
    def __init__(self, base_url: str, partner: str, key: str, client: Any = None) -> None:
        """``client``: an ``httpx.Client`` (default) or anything with its ``post`` (a TestClient)."""
        self.base_url = base_url.rstrip("/")
        self.partner = partner
        self.key = key
        self.client = client or httpx.Client(timeout=10)

    def signed(self, body: dict[str, Any] | bytes) -> tuple[bytes, dict[str, str]]:
        raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        return raw, signing.sign_headers(self.partner, self.key, "POST", ORDERS_PATH, raw)

    def send_order(self, body: dict[str, Any]) -> Any:
        raw, headers = self.signed(body)
        return self.client.post(self.base_url + ORDERS_PATH, content=raw, headers=headers)


class CallbackReceiver:
    """The partner's callback URL: ``received`` holds the accepted push-backs in arrival order."""

    def __init__(self, key: str, port: int = 0) -> None:
        self.key = key
        self.received: list[dict[str, Any]] = []
        self.repeats = 0
        self.refused = 0
        self._seen: set[str] = set()
        self._lock = threading.Lock()
        self._port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}/callback"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                if not signing.valid(receiver.key, headers, "POST", urlsplit(self.path).path, body):
                    receiver.refused += 1
                    self.send_response(401)
                    self.end_headers()
                    return
                payload = json.loads(body)
                with receiver._lock:
                    if payload["delivery_id"] in receiver._seen:
                        receiver.repeats += 1
                    else:
                        receiver._seen.add(payload["delivery_id"])
                        receiver.received.append(payload)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"ok":true}')

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self._port), Handler)
        self._port = self._server.server_address[1]  # keep the port across stop/start
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
