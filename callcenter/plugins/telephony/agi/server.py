"""FastAGI server (port 4573): Asterisk's ``AGI(agi://host:4573/<script>)`` lands here.

Design: a ``socketserver.ThreadingTCPServer`` with one thread per connection, each running pyst2's
synchronous ``asterisk.agi.AGI`` over the socket's file objects. pyst2's protocol code is blocking and
the handlers do blocking SQLAlchemy and Redis calls, so a thread per call keeps each IVR session simple
and isolated (a slow database query or a stuck channel never stalls other calls); the number of
concurrent sessions is capped (``max_sessions``), and beyond the cap a connection is closed at once so
Asterisk sets ``AGISTATUS=FAILURE`` and the dialplan sends the caller straight to the queue.

Robustness: the AGI environment is read with line/size limits, within one total deadline
(``env_timeout_s`` for the whole block, not per read: a peer that sends a byte every few seconds is cut
off when it runs out) and validated; a malformed or late one is logged and the connection closed.
Per-peer limits keep one address from taking every slot: at most ``max_pending_per_peer`` of its
connections may still be sending their environment (Asterisk sends it in one write, so a real node has
almost none pending), at most ``max_sessions_per_peer`` may be open, and ``allowed_peers`` (when set)
refuses every other address. The port must still never be reachable from outside (docs/operations.md,
"Security"). Hangups are expected, not errors: the dialplan sets ``AGISIGHUP=no`` so
Asterisk does not inject ``HANGUP`` lines, and a command on a dead channel answers ``511`` or
``result=-1``, which become :class:`ChannelGone` and end the session quietly. Socket timeouts end a
session whose channel stopped talking. No exception escapes a session thread.
"""

from __future__ import annotations

import contextlib
import io
import ipaddress
import logging
import re
import socket
import socketserver
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from io import BufferedIOBase
from typing import Any

from asterisk.agi import AGI, AGIAppError, AGIError, AGIException, AGIInvalidCommand, AGIUsageError

from callcenter.observability import AGI_ACTIVE, AGI_COMMAND_SECONDS, AGI_SESSION_SECONDS, AGI_SESSIONS

log = logging.getLogger(__name__)

MAX_ENV_LINES = 200
MAX_LINE_BYTES = 8192
REQUIRED_ENV = ("agi_request", "agi_channel", "agi_uniqueid")
#: Commands whose duration is the caller's (prompts, keypad input): not part of the AGI round trip.
MEDIA_COMMANDS = frozenset(
    {
        "GET DATA",
        "STREAM FILE",
        "CONTROL STREAM FILE",
        "SAY DIGITS",
        "SAY NUMBER",
        "SAY ALPHA",
        "GET OPTION",
        "WAIT FOR DIGIT",
        "RECORD FILE",
        "EXEC",
    }
)
_RE_CODE = re.compile(r"^(\d{3})[ -](.*)$")
_RE_KV = re.compile(r"(?P<key>\w+)=(?P<value>[^\s]+)\s*(?:\((?P<data>.*)\))*")


class MalformedEnvironment(AGIException):
    """The AGI environment block is missing, truncated, oversized or lacks required keys."""


class ChannelGone(AGIException):
    """The channel hung up (or the socket closed) while a command was pending."""


class EnvironmentDeadline(TimeoutError):
    """The peer did not send its whole AGI environment within the total deadline."""


class _SocketReader(io.RawIOBase):
    """The connection's raw reader. While ``deadline`` (a ``time.monotonic()`` value) is set, no read
    waits past it, however the peer spreads its bytes; afterwards reads use the socket's timeout."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.deadline: float | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.deadline is not None:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise EnvironmentDeadline("AGI environment not complete in time")
            self.sock.settimeout(remaining)
            try:
                return self.sock.recv_into(buffer)
            except TimeoutError as exc:
                raise EnvironmentDeadline("AGI environment not complete in time") from exc
        return self.sock.recv_into(buffer)


class _NullWriter:
    """pyst2 writes debug chatter to stderr; keep it out of the logs."""

    def write(self, _s: str) -> int:
        return 0

    def flush(self) -> None:
        return None


@dataclass
class AGIStats:
    """Counters and command round-trip times (seconds), shared by all session threads.

    ``round_trips`` holds only control commands (variables, verbose, ...): the time from writing the
    command to reading Asterisk's answer. Prompt and keypad commands last as long as the caller
    takes and are only counted (``media_commands``).
    """

    sessions: int = 0
    completed: int = 0
    hangups: int = 0
    malformed: int = 0
    errors: int = 0
    timeouts: int = 0
    rejected: int = 0
    slow_environments: int = 0
    active: int = 0
    round_trips: deque[float] = field(default_factory=lambda: deque(maxlen=200_000))
    media_commands: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def bump(self, name: str, delta: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + delta)

    def add_round_trip(self, seconds: float) -> None:
        self.round_trips.append(seconds)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            rts = sorted(self.round_trips)
            out: dict[str, Any] = {
                k: getattr(self, k)
                for k in (
                    "sessions",
                    "completed",
                    "hangups",
                    "malformed",
                    "errors",
                    "timeouts",
                    "rejected",
                    "slow_environments",
                    "media_commands",
                )
            }
            out["active"] = self.active
        out["commands"] = len(rts)
        if rts:
            out["rtt_p50_ms"] = round(rts[len(rts) // 2] * 1000, 2)
            out["rtt_p95_ms"] = round(rts[min(len(rts) - 1, int(len(rts) * 0.95))] * 1000, 2)
        return out


def read_environment(rfile: BufferedIOBase) -> dict[str, str]:
    """Read ``agi_*: value`` lines up to the blank line, with limits; raises MalformedEnvironment."""
    env: dict[str, str] = {}
    for _ in range(MAX_ENV_LINES):
        raw = rfile.readline(MAX_LINE_BYTES + 1)
        if not raw:
            raise MalformedEnvironment(f"connection closed inside the AGI environment after {len(env)} keys")
        if len(raw) > MAX_LINE_BYTES:
            raise MalformedEnvironment("AGI environment line too long")
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if line == "":
            break
        key, sep, value = line.partition(":")
        key = key.strip()
        if not sep or not key.startswith("agi_") or not key.replace("_", "").isalnum():
            raise MalformedEnvironment(f"not an AGI environment line: {line[:80]!r}")
        env[key] = value.strip()
    else:
        raise MalformedEnvironment(f"AGI environment longer than {MAX_ENV_LINES} lines")
    missing = [k for k in REQUIRED_ENV if not env.get(k)]
    if missing:
        raise MalformedEnvironment(f"AGI environment lacks {', '.join(missing)}")
    return env


def script_name(env: dict[str, str]) -> tuple[str, dict[str, str]]:
    """Handler name and query arguments from ``agi_network_script`` (``intake?x=1`` -> intake)."""
    script = env.get("agi_network_script") or env.get("agi_request", "").rsplit("/", 1)[-1]
    name, _, query = script.partition("?")
    params: dict[str, str] = {}
    for part in query.split("&"):
        k, sep, v = part.partition("=")
        if sep:
            params[k] = v
    return name.strip("/"), params


class FastAGI(AGI):
    """pyst2's AGI over a socket: no signal handlers (threads), bounded reads, timed commands."""

    def __init__(
        self, rfile: BufferedIOBase, wfile: BufferedIOBase, env: dict[str, str], stats: AGIStats | None = None
    ) -> None:
        # Deliberately not calling AGI.__init__: it installs a SIGHUP handler (main thread only) and
        # reads the environment without limits.
        self.stdin = rfile
        self.stdout = wfile
        self.stderr = _NullWriter()
        self._got_sighup = False
        self.env = env
        self.stats = stats

    def send_command(self, command: str, *args: Any) -> None:
        line = " ".join([command.strip(), *map(str, args)]).strip()
        if "\n" in line or "\r" in line:
            raise AGIError("newline in AGI command")
        self.stdout.write((line + "\n").encode("utf-8"))
        self.stdout.flush()

    def execute(self, command: str, *args: Any) -> dict[str, tuple[str, str]]:
        started = time.perf_counter()
        try:
            self.send_command(command, *args)
            result = self.get_result()
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise ChannelGone(f"socket closed during {command}") from exc
        if self.stats is not None:
            if command.strip().upper() in MEDIA_COMMANDS:
                self.stats.bump("media_commands")
            else:
                elapsed = time.perf_counter() - started
                self.stats.add_round_trip(elapsed)
                AGI_COMMAND_SECONDS.observe(elapsed)
        return result

    def _readline(self) -> str:
        raw = self.stdin.readline(MAX_LINE_BYTES)
        if not raw:
            raise ChannelGone("socket closed by Asterisk")
        return raw.decode("utf-8", errors="replace").strip()

    def get_result(self, stdin: Any = None) -> dict[str, tuple[str, str]]:
        line = self._readline()
        while line == "HANGUP":  # only sent when AGISIGHUP is not "no"; skip to the real answer
            line = self._readline()
        m = _RE_CODE.match(line)
        if not m:
            raise AGIError(f"unparseable AGI response {line[:80]!r}")
        code, response = int(m.group(1)), m.group(2)
        if code == 200:
            result: dict[str, tuple[str, str]] = {"result": ("", "")}
            for key, value, data in _RE_KV.findall(response):
                result[key] = (value, data)
                if key == "result" and value == "-1":
                    raise ChannelGone("result=-1 (hangup or failure)")
            return result
        if code == 511:
            raise ChannelGone("command not permitted on a dead channel")
        if code == 510:
            raise AGIInvalidCommand(response)
        if code == 520:
            usage = [line]
            while not line.startswith("520 "):
                line = self._readline()
                usage.append(line)
            raise AGIUsageError("\n".join(usage))
        raise AGIError(f"unexpected AGI response code {code}: {response[:80]}")


Handler = Callable[[FastAGI, dict[str, str]], None]


class FastAGIServer(socketserver.ThreadingTCPServer):
    """Threaded FastAGI server dispatching on the script name.

    Limits (settings ``telephony.agi_*``): ``max_sessions`` connections at once; ``env_timeout_s`` for
    the whole AGI environment; per peer address ``max_pending_per_peer`` connections still sending
    their environment and ``max_sessions_per_peer`` open ones (0 = only ``max_sessions``);
    ``allowed_peers`` addresses or networks (empty = any). A connection over a limit is closed at once
    (Asterisk: ``AGISTATUS=FAILURE``, the dialplan sends the caller to the queue).
    """

    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        handlers: dict[str, Handler],
        *,
        max_sessions: int = 256,
        env_timeout_s: float = 5.0,
        idle_timeout_s: float = 180.0,
        max_pending_per_peer: int = 32,
        max_sessions_per_peer: int = 0,
        allowed_peers: Iterable[str] = (),
    ) -> None:
        self.handlers = handlers
        self.stats = AGIStats()
        self.env_timeout_s = env_timeout_s
        self.idle_timeout_s = idle_timeout_s
        self.max_pending_per_peer = max_pending_per_peer
        self.max_sessions_per_peer = max_sessions_per_peer
        self.allowed_peers = tuple(ipaddress.ip_network(p.strip(), strict=False) for p in allowed_peers)
        self._slots = threading.BoundedSemaphore(max_sessions)
        self._peer_lock = threading.Lock()
        self._open: Counter[str] = Counter()
        self._pending: Counter[str] = Counter()
        super().__init__(address, _SessionHandler)

    @classmethod
    def from_settings(
        cls, address: tuple[str, int], handlers: dict[str, Handler], telephony: Any
    ) -> FastAGIServer:
        """A server with the limits of ``settings.telephony`` (``TelephonySettings.agi_*``)."""
        return cls(
            address,
            handlers,
            max_sessions=telephony.agi_max_sessions,
            env_timeout_s=telephony.agi_env_timeout_s,
            idle_timeout_s=telephony.agi_idle_timeout_s,
            max_pending_per_peer=telephony.agi_max_pending_per_peer,
            max_sessions_per_peer=telephony.agi_max_sessions_per_peer,
            allowed_peers=telephony.agi_allowed_peers,
        )

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

    def admit(self, host: str) -> str | None:
        """Count a new connection from ``host`` as open and pending; the reason when it is refused."""
        if not self.peer_allowed(host):
            return "address not in telephony.agi_allowed_peers"
        with self._peer_lock:
            if self.max_sessions_per_peer and self._open[host] >= self.max_sessions_per_peer:
                return f"{self._open[host]} connections open from this address"
            if self.max_pending_per_peer and self._pending[host] >= self.max_pending_per_peer:
                return f"{self._pending[host]} connections from this address still sending their environment"
            self._open[host] += 1
            self._pending[host] += 1
        return None

    def environment_read(self, host: str) -> None:
        with self._peer_lock:
            self._pending[host] -= 1
            if self._pending[host] <= 0:
                del self._pending[host]

    def release(self, host: str, *, pending: bool) -> None:
        with self._peer_lock:
            if pending:
                self._pending[host] -= 1
                if self._pending[host] <= 0:
                    del self._pending[host]
            self._open[host] -= 1
            if self._open[host] <= 0:
                del self._open[host]

    def peers(self) -> dict[str, tuple[int, int]]:
        """``{address: (open, pending)}`` (for tests and diagnostics)."""
        with self._peer_lock:
            return {h: (n, self._pending.get(h, 0)) for h, n in self._open.items()}

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def start_in_thread(self) -> threading.Thread:
        t = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
        t.name = f"fastagi-{self.port}"
        t.start()
        return t

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _SessionHandler(socketserver.StreamRequestHandler):
    server: FastAGIServer

    def setup(self) -> None:
        super().setup()
        # our own buffered reader over the socket, so the environment can be read against a deadline
        self._raw = _SocketReader(self.connection)
        self.rfile = io.BufferedReader(self._raw)

    def _refuse(self, why: str) -> None:
        self.server.stats.bump("rejected")
        AGI_SESSIONS.labels("none", "rejected").inc()
        log.warning("fastagi: refusing %s: %s", self.client_address, why)

    def handle(self) -> None:
        srv = self.server
        srv.stats.bump("sessions")
        host = str(self.client_address[0])
        refused = srv.admit(host)
        if refused is not None:
            self._refuse(refused)
            return
        pending = True
        if not srv._slots.acquire(blocking=False):
            srv.release(host, pending=True)
            self._refuse("too many sessions")
            return
        srv.stats.bump("active")
        AGI_ACTIVE.inc()
        started = time.monotonic()
        name = "?"
        uniqueid = "?"
        script = "none"  # the metrics label: a known script name, "unknown" or "none"
        outcome = "error"
        try:
            self._raw.deadline = started + srv.env_timeout_s
            try:
                env = read_environment(self.rfile)
            finally:
                self._raw.deadline = None
                srv.environment_read(host)
                pending = False
            uniqueid = env.get("agi_uniqueid", "?")
            name, params = script_name(env)
            env.update({f"param_{k}": v for k, v in params.items()})
            handler = srv.handlers.get(name)
            if handler is None:
                script, outcome = "unknown", "unknown_script"
                log.warning("fastagi: unknown script %r (uniqueid %s)", name, uniqueid, extra=_ids(uniqueid))
                srv.stats.bump("errors")
                with contextlib.suppress(OSError):
                    self.wfile.write(b'VERBOSE "unknown FastAGI script" 1\n')
                return
            script = name
            self.connection.settimeout(srv.idle_timeout_s)
            agi = FastAGI(self.rfile, self.wfile, env, srv.stats)
            handler(agi, env)
            srv.stats.bump("completed")
            outcome = "completed"
        except MalformedEnvironment as exc:
            srv.stats.bump("malformed")
            outcome = "malformed"
            log.warning("fastagi: malformed AGI environment from %s: %s", self.client_address, exc)
        except EnvironmentDeadline:
            srv.stats.bump("timeouts")
            srv.stats.bump("slow_environments")
            outcome = "timeout"
            log.warning(
                "fastagi: %s did not send its AGI environment within %.1f s; closed",
                self.client_address,
                srv.env_timeout_s,
            )
        except ChannelGone as exc:
            srv.stats.bump("hangups")
            outcome = "hangup"
            log.info("fastagi: %s %s: caller gone (%s)", name, uniqueid, exc, extra=_ids(uniqueid))
        except TimeoutError:
            srv.stats.bump("timeouts")
            outcome = "timeout"
            log.warning(
                "fastagi: %s %s: timed out waiting for Asterisk", name, uniqueid, extra=_ids(uniqueid)
            )
        except (AGIAppError, AGIError, AGIException, OSError) as exc:
            srv.stats.bump("errors")
            log.warning("fastagi: %s %s: AGI error: %r", name, uniqueid, exc, extra=_ids(uniqueid))
        except Exception:
            srv.stats.bump("errors")
            outcome = "crashed"
            log.exception("fastagi: %s %s: handler crashed", name, uniqueid, extra=_ids(uniqueid))
        finally:
            srv.stats.bump("active", -1)
            srv._slots.release()
            srv.release(host, pending=pending)
            AGI_ACTIVE.dec()
            AGI_SESSIONS.labels(script, outcome).inc()
            AGI_SESSION_SECONDS.labels(script).observe(time.monotonic() - started)


def _ids(uniqueid: str) -> dict[str, str]:
    """``extra`` fields of a session's log records (JSON logs carry the channel's uniqueid)."""
    return {"uniqueid": uniqueid} if uniqueid != "?" else {}
