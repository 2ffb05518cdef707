"""A minimal synchronous AMI client for one action (``Reload``) as the reload-only AMI user.

The AMI bridge's user may not reload modules (least privilege); the softphone plugin logs in as the
second user ``<ami user>-pjsip`` (``write = system`` only, loopback only, rendered into manager.conf by
the telephony provisioning) for the few seconds a reload takes.
"""

from __future__ import annotations

import socket
import time
import uuid


class AMIError(RuntimeError):
    """The reload could not be done; the message says why."""


def _read_message(sock: socket.socket, buf: bytearray, deadline: float) -> dict[str, str]:
    while b"\r\n\r\n" not in buf:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AMIError("AMI did not answer in time")
        sock.settimeout(remaining)
        chunk = sock.recv(65536)
        if not chunk:
            raise AMIError("AMI closed the connection")
        buf.extend(chunk)
    end = buf.index(b"\r\n\r\n")
    raw = bytes(buf[:end]).decode("utf-8", "replace")
    del buf[: end + 4]
    msg: dict[str, str] = {}
    for line in raw.split("\r\n"):
        key, sep, value = line.partition(":")
        if sep:
            msg.setdefault(key.strip(), value.strip())
    return msg


def run_action(
    host: str, port: int, username: str, secret: str, action: dict[str, str], timeout: float = 5.0
) -> dict[str, str]:
    """Log in, send ``action``, return its response (``Response: Success``) or raise :class:`AMIError`."""
    deadline = time.monotonic() + timeout
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            buf = bytearray()
            sock.settimeout(timeout)
            banner = b""
            while b"\r\n" not in banner:
                chunk = sock.recv(1024)
                if not chunk:
                    raise AMIError("AMI closed the connection before its banner")
                banner += chunk
            buf.extend(banner.split(b"\r\n", 1)[1])

            def send(fields: dict[str, str]) -> dict[str, str]:
                aid = uuid.uuid4().hex
                text = "".join(f"{k}: {v}\r\n" for k, v in {**fields, "ActionID": aid}.items()) + "\r\n"
                sock.sendall(text.encode())
                while True:
                    msg = _read_message(sock, buf, deadline)
                    if msg.get("ActionID") == aid and "Response" in msg:
                        return msg

            login = send({"Action": "Login", "Username": username, "Secret": secret, "Events": "off"})
            if login.get("Response") != "Success":
                raise AMIError(f"AMI login as {username} refused: {login.get('Message', '')}")
            res = send(action)
            if res.get("Response") != "Success":
                raise AMIError(f"AMI {action.get('Action')} failed: {res.get('Message', '')}")
            send({"Action": "Logoff"})
            return res
    except OSError as exc:
        raise AMIError(f"cannot reach AMI at {host}:{port}: {exc}") from exc
