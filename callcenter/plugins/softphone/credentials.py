"""Per-login softphone credentials (坐席软电话凭据) and the WebRTC endpoints of Asterisk.

At each console login the browser asks :func:`issue` for a fresh random password of the agent's
extension (an authenticated API call; the password never appears in a page). The live credentials are
kept in Redis (``cc:softphone:cred:<extension>``, expiring after ``softphone.credential_ttl_s``) and
written as pjsip ``endpoint`` / ``auth`` / ``aor`` objects into ``ROOT/etc/asterisk/pjsip_softphone.conf``
(included by the rendered ``pjsip.conf``); Asterisk then reloads ``res_pjsip`` through the reload-only AMI
user. A new login of the same extension replaces the old password (the old browser's registration is
refused from then on); an extension with no live credential has no endpoint at all.

Endpoints are WebRTC ones: SIP over secure WebSocket (``transport-wss``), ``webrtc = yes`` (DTLS-SRTP,
ICE, AVPF, rtcp-mux), G.711. ``media_address`` is the host's non-loopback address because browsers
gather no loopback ICE candidates.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import secrets
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from callcenter.config import Settings

from .ami import AMIError, run_action

log = logging.getLogger(__name__)

KEY = "cc:softphone:cred:{ext}"
CONF_NAME = "pjsip_softphone.conf"


class SoftphoneError(RuntimeError):
    """Credentials could not be issued or applied; the message says why."""


@dataclass(frozen=True)
class Credential:
    extension: str
    password: str
    username: str  # console user it was issued to
    issued_at: float
    expires_at: float

    def to_json(self) -> str:
        return json.dumps(self.__dict__)

    @classmethod
    def from_json(cls, raw: str | bytes) -> Credential:
        return cls(**json.loads(raw))


def conf_path(settings: Settings) -> Path:
    return settings.asterisk.rootfs / "etc/asterisk" / CONF_NAME


def media_address(settings: Settings) -> str:
    """The address Asterisk announces for WebRTC media: configured, else the host's primary one."""
    if settings.softphone.media_address:
        return settings.softphone.media_address
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("192.0.2.255", 9))  # no packet is sent; picks the outgoing interface
        addr = str(s.getsockname()[0])
        if not addr.startswith("127."):
            return addr
    with contextlib.suppress(OSError):
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            addr = str(info[4][0])
            if not addr.startswith("127."):
                return addr
    return ""


def render(settings: Settings, creds: list[Credential]) -> str:
    """The text of ``pjsip_softphone.conf`` for the live credentials (pure)."""
    maddr = media_address(settings)
    lines = [
        "; Written by callcenter.plugins.softphone at each console login - do not edit.",
        "; WebRTC endpoints of the browser softphones (SIP over WSS, DTLS-SRTP, ICE).",
        "",
    ]
    for c in sorted(creds, key=lambda c: c.extension):
        ext = c.extension
        lines += [
            f"[{ext}]",
            "type = aor",
            "max_contacts = 1",
            "remove_existing = yes",
            "qualify_frequency = 30",
            "",
            f"[{ext}-webrtc-auth]",
            "type = auth",
            "auth_type = userpass",
            f"username = {ext}",
            f"password = {c.password}",
            "",
            f"[{ext}]",
            "type = endpoint",
            "transport = transport-wss",
            f"aors = {ext}",
            f"auth = {ext}-webrtc-auth",
            "context = agents",
            "webrtc = yes",
            "disallow = all",
            "allow = ulaw,alaw",
            "dtmf_mode = rfc4733",
            "direct_media = no",
            "language = zh",
            "allow_transfer = yes",
            f"callerid = {ext} <{ext}>",
            *([f"media_address = {maddr}"] if maddr else []),
            "",
        ]
    return "\n".join(lines)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def live_credentials(settings: Settings, client: Any) -> list[Credential]:
    out = []
    now = time.time()
    for ext in settings.softphone.extensions:
        raw = client.get(KEY.format(ext=ext))
        if raw:
            cred = Credential.from_json(raw)
            if cred.expires_at > now:
                out.append(cred)
    return out


def apply(settings: Settings, client: Any) -> str | None:
    """Write the endpoints of the live credentials and reload res_pjsip.

    Returns None, or why Asterisk could not be told (it is down, or its AMI refused): the file is
    written anyway, so an Asterisk that starts later reads the credentials (a restart loses nothing).
    """
    path = conf_path(settings)
    if not path.parent.is_dir():
        raise SoftphoneError(
            f"no Asterisk configuration at {path.parent}: run `callcenter asterisk provision`"
        )
    with _locked(path):
        text = render(settings, live_credentials(settings, client))
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.chmod(tmp, 0o640)
        tmp.replace(path)
        try:
            _reload(settings)
        except SoftphoneError as exc:
            log.warning("softphone: %s", exc)
            return str(exc)
    return None


def _reload(settings: Settings) -> None:
    """Make Asterisk read ``pjsip_softphone.conf`` again (AMI ``Reload`` of ``res_pjsip.so``)."""
    user, secret = settings.ami_reload_user()
    try:
        run_action(
            settings.ami.host,
            settings.ami.port,
            user,
            secret,
            {"Action": "Reload", "Module": "res_pjsip.so"},
        )
    except AMIError as exc:
        raise SoftphoneError(f"Asterisk did not reload the softphone endpoints: {exc}") from exc


def issue(settings: Settings, client: Any, extension: str, username: str) -> tuple[Credential, str | None]:
    """A new random password for ``extension`` (replaces the previous one), applied to Asterisk.
    Returns it and the reason Asterisk could not be reloaded (None when it was)."""
    if extension not in settings.softphone.extensions:
        raise SoftphoneError(
            f"extension {extension} is not a browser softphone extension (softphone.extensions)"
        )
    now = time.time()
    ttl = settings.softphone.credential_ttl_s
    cred = Credential(
        extension=extension,
        password=secrets.token_urlsafe(24),
        username=username,
        issued_at=now,
        expires_at=now + ttl,
    )
    client.set(KEY.format(ext=extension), cred.to_json(), ex=ttl)
    return cred, apply(settings, client)


def revoke(settings: Settings, client: Any, extension: str) -> str | None:
    """Remove the credential of ``extension`` (logout): its endpoint disappears from Asterisk."""
    client.delete(KEY.format(ext=extension))
    return apply(settings, client)
