"""asyncio AudioSocket server (AudioSocket 服务端).

Accepts Asterisk ``AudioSocket()`` application connections and ``AudioSocket/…`` channels (the
ChanSpy mode): reads the UUID frame, asks ``lookup`` which call it belongs to, and runs a
:class:`~callcenter.plugins.speech.audiosocket.session.CallSession`. The socket is closed as soon as the
session stops
reading, so the dialplan continues while the last utterance is still being decoded.

Bad input never takes the server down: every connection runs in its own task, errors end only that
connection, and a connection over ``max_sessions`` is closed at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from callcenter.plugins.speech.audiosocket.protocol import Kind, ProtocolError, read_frame
from callcenter.plugins.speech.audiosocket.session import CallInfo, CallSession, SessionSummary

log = logging.getLogger(__name__)

SessionFactory = Callable[[CallInfo], CallSession]
Lookup = Callable[[str], Awaitable[CallInfo]]


class AudioSocketServer:
    """TCP server for AudioSocket streams."""

    def __init__(
        self,
        *,
        lookup: Lookup,
        make_session: SessionFactory,
        host: str = "127.0.0.1",
        port: int = 9092,
        max_sessions: int = 64,
        first_frame_timeout_s: float = 5.0,
        max_payload: int = 8192,
    ) -> None:
        self.lookup = lookup
        self.make_session = make_session
        self.host = host
        self.port = port
        self.max_sessions = max_sessions
        self.first_frame_timeout_s = first_frame_timeout_s
        self.max_payload = max_payload
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.active: dict[str, CallSession] = {}
        self.completed: list[SessionSummary] = []
        self.rejected = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._on_connect, self.host, self.port)
        sock = self._server.sockets[0]
        self.port = sock.getsockname()[1]
        log.info("AudioSocket server listening on %s:%d", self.host, self.port)

    async def serve_forever(self) -> None:
        if self._server is None:
            await self.start()
        assert self._server is not None
        async with self._server:
            await self._server.serve_forever()

    async def close(self, drain_s: float = 10.0) -> None:
        """Stop accepting, then wait up to ``drain_s`` for running sessions to finish."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        if self._tasks:
            _done, pending = await asyncio.wait(set(self._tasks), timeout=drain_s)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)

    def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.create_task(self._handle(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")

        def close_writer() -> None:
            if not writer.is_closing():
                writer.close()

        try:
            if len(self.active) >= self.max_sessions:
                self.rejected += 1
                log.warning("audiosocket: %d sessions already running, refusing %s", len(self.active), peer)
                return
            try:
                first = await asyncio.wait_for(
                    read_frame(reader, self.max_payload), self.first_frame_timeout_s
                )
            except TimeoutError:
                log.warning(
                    "audiosocket: no UUID frame from %s within %.0f s", peer, self.first_frame_timeout_s
                )
                return
            except (ProtocolError, ConnectionError) as exc:
                log.warning("audiosocket: bad first frame from %s: %s", peer, exc)
                return
            if first is None:
                return
            if first.kind != Kind.UUID:
                log.warning("audiosocket: first frame from %s is kind 0x%02x, not a UUID", peer, first.kind)
                return
            call = await self.lookup(first.uuid)
            session = self.make_session(call)
            key = f"{call.audio_uuid}@{id(session)}"
            self.active[key] = session
            try:
                summary = await session.run(reader, input_closed=close_writer)
            finally:
                self.active.pop(key, None)
            self.completed.append(summary)
            del self.completed[:-100]
            log.info(
                "audiosocket %s: done (%s), %.1f s audio, %d finals",
                call.uniqueid,
                summary.reason,
                summary.audio_s,
                len(summary.finals),
            )
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("audiosocket: session from %s failed", peer)
        finally:
            close_writer()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
