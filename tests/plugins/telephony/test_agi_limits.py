"""FastAGI under slow senders (issue 12, item 6), with real sockets against the real FastAGI server
and the real IVR handlers (SQLite, Redis); the test plays Asterisk's side of the AGI protocol.

Before the fix the 10 s limit on the AGI environment applied to each read: connections sending a byte
every few seconds held every session slot for as long as they liked, and a real call was refused. Now
the environment has one total deadline, and one address may have only a few connections still sending
their environment (``telephony.agi_max_pending_per_peer``), so slow senders from another address
cannot lock Asterisk out. Per-peer session limits and an allow-list refuse the rest.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis as redis_lib
from sqlalchemy import select

from callcenter.config import Settings
from callcenter.db.models import Call
from callcenter.db.session import session_scope
from callcenter.plugins.telephony.agi.handlers import IVRContext, IVRHandlers
from callcenter.plugins.telephony.agi.server import FastAGIServer
from tests.kernel.conftest import seed_test_data

pytestmark = [pytest.mark.redis]

ASTERISK = "127.0.0.1"  # the real node's address
ATTACKER = "127.0.0.2"  # another address on the loopback network


def _env(uniqueid: str) -> bytes:
    return (
        "agi_request: agi://127.0.0.1/intake\n"
        "agi_network_script: intake\n"
        f"agi_channel: PJSIP/sim-{uniqueid}\n"
        f"agi_uniqueid: {uniqueid}\n"
        "agi_callerid: 13812348000\n"
        "agi_calleridname: unknown\n"
        "agi_extension: 12345\n"
        "\n"
    ).encode()


def asterisk_call(port: int, uniqueid: str, *, key: str = "3", timeout: float = 15.0) -> list[str]:
    """One call as Asterisk makes it: the environment in one write, then an answer to each command
    (the caller presses ``key`` at the menu). Returns the commands; [] when the server refused."""
    commands: list[str] = []
    with socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(ASTERISK, 0)) as sock:
        sock.sendall(_env(uniqueid))
        reader = sock.makefile("rb")
        while True:
            line = reader.readline()
            if not line:
                return commands
            command = line.decode().strip()
            commands.append(command)
            reply = f"200 result={key}" if command.startswith("GET DATA") else "200 result=0"
            sock.sendall(reply.encode() + b"\n")


class SlowSender(threading.Thread):
    """A peer that sends a valid AGI environment one byte every ``every_s`` seconds."""

    def __init__(self, port: int, every_s: float, source: str = ATTACKER) -> None:
        super().__init__(daemon=True)
        self.port, self.every_s, self.source = port, every_s, source
        self.connected_at = 0.0
        self.closed_after: float | None = None  # seconds until the server closed the connection
        self.sent = 0
        self.stop = threading.Event()

    def run(self) -> None:
        payload = _env(f"slow-{id(self)}")
        try:
            with socket.create_connection(
                ("127.0.0.1", self.port), timeout=10, source_address=(self.source, 0)
            ) as sock:
                self.connected_at = time.monotonic()
                sock.settimeout(self.every_s)
                for byte in payload[:-1]:  # never the final blank line
                    if self.stop.is_set():
                        return
                    sock.sendall(bytes([byte]))
                    self.sent += 1
                    try:
                        if sock.recv(1) == b"":  # the server closed the connection
                            break
                    except TimeoutError:
                        continue
                    except OSError:
                        break
                self.closed_after = time.monotonic() - self.connected_at
        except OSError:
            self.closed_after = time.monotonic() - self.connected_at if self.connected_at else 0.0


@pytest.fixture
def ivr(sqlite_url: str, redis_client: redis_lib.Redis) -> Iterator[dict[str, Any]]:
    seed_test_data(sqlite_url)
    yield IVRHandlers(IVRContext(sqlite_url, redis_client, input_timeout_ms=1000)).table()


def _serve(handlers: dict[str, Any], **limits: Any) -> FastAGIServer:
    server = FastAGIServer(("127.0.0.1", 0), handlers, **limits)
    server.start_in_thread()
    return server


def _wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_a_real_call_is_served_while_slow_senders_try_every_slot(
    ivr: dict[str, Any], sqlite_url: str
) -> None:
    """The probe of the issue, scaled down: as many slow connections as there are slots, a byte every
    0.5 s (well inside any per-read limit), then a real call."""
    server = _serve(ivr, max_sessions=64, env_timeout_s=2.0)
    try:
        attackers = [SlowSender(server.port, every_s=0.5) for _ in range(64)]
        for a in attackers:
            a.start()
        _wait(lambda: server.stats.snapshot()["sessions"] >= 64, 20, "the slow connections")
        assert server.stats.snapshot()["active"] <= 32  # agi_max_pending_per_peer: the rest refused
        started = time.monotonic()
        commands = asterisk_call(server.port, "pbx1-1700000000.1")
        assert commands, "the real call was refused"
        assert any(c.startswith("GET DATA") for c in commands)
        assert time.monotonic() - started < 5
        with session_scope(sqlite_url) as s:
            call = s.scalar(select(Call).where(Call.uniqueid == "pbx1-1700000000.1"))
            assert call is not None and call.ivr_choice == "3"
        # every slow connection was cut off by the total deadline (or refused at once), although each
        # kept sending: none lived much past env_timeout_s
        for a in attackers:
            a.join(15)
        assert all(a.closed_after is not None and a.closed_after < 2.0 + 1.5 for a in attackers)
        snap = server.stats.snapshot()
        assert snap["completed"] == 1 and snap["active"] == 0
        assert snap["slow_environments"] + snap["rejected"] == 64
        assert server.peers() == {}
    finally:
        for a in attackers:
            a.stop.set()
        server.stop()


def test_the_environment_deadline_is_total_not_per_read(ivr: dict[str, Any]) -> None:
    server = _serve(ivr, env_timeout_s=1.5)
    try:
        slow = SlowSender(server.port, every_s=0.2, source=ASTERISK)
        slow.start()
        slow.join(10)
        assert slow.closed_after is not None and 1.3 <= slow.closed_after < 3.0, slow.closed_after
        assert slow.sent < len(_env("x"))  # it was still sending
        snap = server.stats.snapshot()
        assert snap["slow_environments"] == 1 and snap["timeouts"] == 1
        # the server serves the next call
        assert asterisk_call(server.port, "pbx1-1700000000.2")
    finally:
        server.stop()


def test_per_peer_session_limit_and_allow_list(ivr: dict[str, Any]) -> None:
    server = _serve(ivr, max_sessions=16, env_timeout_s=5.0, max_sessions_per_peer=3)
    holders: list[socket.socket] = []
    try:
        for _ in range(3):  # three connections of one peer that have not finished their environment
            holders.append(socket.create_connection(("127.0.0.1", server.port), source_address=(ATTACKER, 0)))
        _wait(lambda: server.peers().get(ATTACKER) == (3, 3), 5, "three open connections")
        with socket.create_connection(("127.0.0.1", server.port), source_address=(ATTACKER, 0)) as fourth:
            fourth.settimeout(5)
            assert fourth.recv(1) == b""  # refused at once
        assert asterisk_call(server.port, "pbx1-1700000000.3")  # another peer is served
        assert server.stats.snapshot()["rejected"] == 1
    finally:
        for h in holders:
            h.close()
        server.stop()

    only_asterisk = _serve(ivr, allowed_peers=["127.0.0.1/32"])
    try:
        with socket.create_connection(("127.0.0.1", only_asterisk.port), source_address=(ATTACKER, 0)) as c:
            c.settimeout(5)
            c.sendall(_env("pbx1-1700000000.4"))
            assert c.recv(1) == b""
        assert asterisk_call(only_asterisk.port, "pbx1-1700000000.5")
        snap = only_asterisk.stats.snapshot()
        assert snap["rejected"] == 1 and snap["completed"] == 1
    finally:
        only_asterisk.stop()


def test_limits_come_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLCENTER_TELEPHONY__AGI_ALLOWED_PEERS", "10.0.0.5, 10.0.1.0/24")
    monkeypatch.setenv("CALLCENTER_TELEPHONY__AGI_ENV_TIMEOUT_S", "3")
    monkeypatch.setenv("CALLCENTER_TELEPHONY__AGI_MAX_SESSIONS_PER_PEER", "100")
    settings = Settings(mode="test")
    server = FastAGIServer.from_settings(("127.0.0.1", 0), {}, settings.telephony)
    try:
        assert server.env_timeout_s == 3.0 and server.max_sessions_per_peer == 100
        assert server.max_pending_per_peer == settings.telephony.agi_max_pending_per_peer == 32
        assert server.peer_allowed("10.0.1.77") and server.peer_allowed("10.0.0.5")
        assert not server.peer_allowed("10.0.0.6") and not server.peer_allowed("::ffff:10.0.0.6")
        assert server.peer_allowed("::ffff:10.0.0.5")
    finally:
        server.server_close()
    monkeypatch.setenv("CALLCENTER_TELEPHONY__AGI_ALLOWED_PEERS", "not-an-address")
    with pytest.raises(ValueError, match="not an address or network"):
        Settings(mode="test")
