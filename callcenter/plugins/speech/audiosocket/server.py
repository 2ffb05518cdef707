"""asyncio AudioSocket server (AudioSocket 服务端).

Accepts Asterisk ``AudioSocket()`` application connections and ``AudioSocket/…`` channels (the
ChanSpy mode): reads the UUID frame, asks ``lookup`` which call it belongs to, and runs a
:class:`~callcenter.plugins.speech.audiosocket.session.CallSession`. The socket is closed as soon as the
session stops reading, so the dialplan continues while the last utterance is still being decoded —
and the session's slot is free from that moment: a finished caller's finals wait in the final queue
(:mod:`callcenter.plugins.speech.final_queue`), not in a session slot.

Bad input never takes the server down: every connection runs in its own task, errors end only that
connection. Limits against slow or hostile peers (settings ``speech.audiosocket_*``, issue 12 item 6):

* ``max_sessions`` connections reading audio or still in their handshake; one more is closed at once;
* ``handshake_timeout_s``: the UUID frame must be complete within this total time, however the peer
  spreads its bytes;
* per peer address ``max_pending_per_peer`` connections still in their handshake and
  ``max_sessions_per_peer`` open ones (0 = only ``max_sessions``); ``allowed_peers`` (when set)
  refuses every other address;
* the minimum audio rate of a session is the session's (``SessionPolicy.min_audio_ratio``);
* ``admit`` (optional): a last word of the service, e.g. a final queue too long to take another call.

A refused connection is closed without a byte; Asterisk's ``AudioSocket()`` then returns and the
dialplan sends the caller on to the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable

from callcenter.observability import ASR_REFUSED
from callcenter.plugins.speech.audiosocket.protocol import Kind, ProtocolError, read_frame
from callcenter.plugins.speech.audiosocket.session import CallInfo, CallSession, SessionSummary

log = logging.getLogger(__name__)

SessionFactory = Callable[[CallInfo], CallSession]
Lookup = Callable[[str], Awaitable[CallInfo]]
Admit = Callable[[], str | None]


def peer_networks(peers: Iterable[str]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Addresses / networks (``10.0.0.5``, ``10.0.1.0/24``) → networks; ValueError on a bad one."""
    out = []
    for item in peers:
        try:
            out.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError as exc:
            raise ValueError(f"not an address or network: {item!r}") from exc
    return tuple(out)


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
        first_frame_timeout_s: float = 3.0,
        max_payload: int = 8192,
        max_pending_per_peer: int = 16,
        max_sessions_per_peer: int = 0,
        allowed_peers: Iterable[str] = (),
        admit: Admit | None = None,
    ) -> None:
        self.lookup = lookup
        self.make_session = make_session
        self.host = host
        self.port = port
        self.max_sessions = max_sessions
        self.first_frame_timeout_s = first_frame_timeout_s
        self.max_payload = max_payload
        self.max_pending_per_peer = max_pending_per_peer
        self.max_sessions_per_peer = max_sessions_per_peer
        self.allowed_peers = peer_networks(allowed_peers)
        self.admit_hook = admit
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.active: dict[str, CallSession] = {}  # sessions still reading audio (they hold a slot)
        self.finishing: dict[str, CallSession] = {}  # input closed, finals still being decoded
        self.completed: list[SessionSummary] = []
        self.rejected = 0
        self.handshake_timeouts = 0
        self._open: Counter[str] = Counter()  # per peer: connections holding a slot
        self._pending: Counter[str] = Counter()  # per peer: connections still in their handshake

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

    # -- admission -----------------------------------------------------------------------------
    def peer_allowed(self, host: str) -> bool:
        if not self.allowed_peers:
            return True
        try:
            addr = ipaddress.ip_address(host)
        except ValueError:
            return False
        if addr.version == 6 and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        return any(addr in net for net in self.allowed_peers)

    @property
    def slots_used(self) -> int:
        """Connections holding a slot: in their handshake or reading audio."""
        return sum(self._open.values())

    def admit(self, host: str) -> tuple[str, str] | None:
        """Take a slot (open + pending) for a new connection from ``host``; (reason, why) if refused."""
        if not self.peer_allowed(host):
            return "not_allowed", "address not in speech.audiosocket_allowed_peers"
        if self.slots_used >= self.max_sessions:
            return "max_sessions", f"{self.slots_used} sessions already running"
        if self.max_sessions_per_peer and self._open[host] >= self.max_sessions_per_peer:
            return "per_peer", f"{self._open[host]} connections open from this address"
        if self.max_pending_per_peer and self._pending[host] >= self.max_pending_per_peer:
            pending = self._pending[host]
            return "pending_per_peer", f"{pending} connections from this address in their handshake"
        if self.admit_hook is not None and (why := self.admit_hook()) is not None:
            return "backlog", why
        self._open[host] += 1
        self._pending[host] += 1
        return None

    def _dec(self, counter: Counter[str], host: str) -> None:
        counter[host] -= 1
        if counter[host] <= 0:
            del counter[host]

    def peers(self) -> dict[str, tuple[int, int]]:
        """``{address: (open, pending)}`` (for tests and diagnostics)."""
        return {h: (n, self._pending.get(h, 0)) for h, n in self._open.items()}

    # -- connections ---------------------------------------------------------------------------
    def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.create_task(self._handle(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _refuse(self, reason: str, why: str, *, peer: object) -> None:
        self.rejected += 1
        ASR_REFUSED.labels(reason).inc()
        log.warning("audiosocket: refusing %s: %s", peer, why)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        host = str(peer[0]) if isinstance(peer, tuple) and peer else "?"
        holds_slot = pending = False
        key: str | None = None

        def close_writer() -> None:
            if not writer.is_closing():
                writer.close()

        def release_slot() -> None:
            # the caller's audio has ended: the slot is free although finals may still be decoding
            nonlocal holds_slot, key
            if holds_slot:
                holds_slot = False
                self._dec(self._open, host)
            if key is not None and key in self.active:
                self.finishing[key] = self.active.pop(key)

        def input_closed() -> None:
            close_writer()
            release_slot()

        try:
            refused = self.admit(host)
            if refused is not None:
                self._refuse(*refused, peer=peer)
                return
            holds_slot = pending = True
            try:
                # one total deadline for the whole frame, however the peer spreads its bytes
                first = await asyncio.wait_for(
                    read_frame(reader, self.max_payload), self.first_frame_timeout_s
                )
            except TimeoutError:
                self.handshake_timeouts += 1
                ASR_REFUSED.labels("handshake_timeout").inc()
                log.warning(
                    "audiosocket: no UUID frame from %s within %.1f s", peer, self.first_frame_timeout_s
                )
                return
            except (ProtocolError, ConnectionError) as exc:
                log.warning("audiosocket: bad first frame from %s: %s", peer, exc)
                return
            finally:
                pending = False
                self._dec(self._pending, host)
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
                summary = await session.run(reader, input_closed=input_closed)
            finally:
                self.active.pop(key, None)
                self.finishing.pop(key, None)
            self.completed.append(summary)
            del self.completed[:-100]
            log.info(
                "audiosocket %s: done (%s), %.1f s audio, %d finals, %.1f s without the partial pass",
                call.uniqueid,
                summary.reason,
                summary.audio_s,
                len(summary.finals),
                summary.partial_skipped_s,
            )
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("audiosocket: session from %s failed", peer)
        finally:
            if pending:
                self._dec(self._pending, host)
            close_writer()
            release_slot()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
