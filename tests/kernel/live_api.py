"""The real API process for security tests: ``callcenter serve`` on a free port, its log in a file.

Used where a test needs what only a real server shows: bytes on the wire (chunked bodies, lying
lengths), the memory of the server process, and its access log lines.
"""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServeProcess:
    base: str
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def memory_kib(self) -> tuple[int, int]:
        """(VmRSS, VmHWM) of the server process in KiB: resident now, and the peak so far."""
        fields = dict(
            line.split(":", 1)
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines()
            if ":" in line
        )
        return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


@contextmanager
def serve(
    database_url: str, redis_url: str, log_dir: Path, *, extra_env: dict[str, str] | None = None
) -> Iterator[ServeProcess]:
    """``callcenter serve`` in test mode against ``database_url``; stopped (SIGTERM) on exit."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}
    env.update(
        CALLCENTER_MODE="test",
        CALLCENTER_DATABASE_URL=database_url,
        CALLCENTER_REDIS_URL=redis_url,
        **(extra_env or {}),
    )
    log_path = log_dir / f"serve-{port}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "callcenter.cli", "serve", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    live = ServeProcess(f"http://127.0.0.1:{port}", port, proc, log_path)
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, live.log()
            try:
                if httpx.get(f"{live.base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "callcenter serve did not come up: " + live.log()
            time.sleep(0.3)
        yield live
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@dataclass
class RawReply:
    status: int | None
    head: bytes
    body: bytes
    sent_bytes: int
    seconds: float


def raw_post(
    port: int,
    path: str,
    headers: dict[str, str],
    chunks: Iterator[bytes],
    *,
    chunked: bool,
    timeout: float = 30.0,
) -> RawReply:
    """POST ``chunks`` over a plain socket, stopping as soon as the server answers (or hangs up).

    Chunked framing when ``chunked``; otherwise the bytes are sent as they are (after whatever
    ``Content-Length`` the caller put in ``headers`` — true or not).
    """
    started = time.monotonic()
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    if chunked:
        head += "Transfer-Encoding: chunked\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    sent = 0
    data = b""
    try:
        sock.sendall(head.encode())
        for chunk in chunks:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break  # the server answered already: stop sending
            frame = b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk
            try:
                sock.sendall(frame)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
            if time.monotonic() - started > timeout:
                break
        else:
            if chunked:
                with suppress(BrokenPipeError, ConnectionResetError):
                    sock.sendall(b"0\r\n\r\n")
        while True:
            try:
                part = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not part:
                break
            data += part
            if b"\r\n\r\n" in data:
                head_part, _, rest = data.partition(b"\r\n\r\n")
                length = [
                    int(line.split(b":", 1)[1])
                    for line in head_part.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ]
                if length and len(rest) >= length[0]:
                    break
    finally:
        sock.close()
    head_part, _, body = data.partition(b"\r\n\r\n")
    status = int(head_part.split(b" ", 2)[1]) if head_part.startswith(b"HTTP/") else None
    return RawReply(status, head_part, body, sent, time.monotonic() - started)
