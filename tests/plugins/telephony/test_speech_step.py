"""The IVR's speech step: AudioSocket with the UUID the intake handler registered, and no dead end
when the speech service is down. The receiving end here is a minimal AudioSocket listener standing in
for the speech service (the speech area's own end-to-end test uses the real one)."""

from __future__ import annotations

import json
import socket
import struct
import threading
import uuid
from array import array
from typing import Any

import pytest
from sqlalchemy import select

from callcenter.db.models import Call
from callcenter.db.session import session_scope
from callcenter.events import audiosocket_key
from tests.support.asterisk import TelephonyStack

pytestmark = [pytest.mark.asterisk, pytest.mark.redis, pytest.mark.slow]

KIND_UUID, KIND_AUDIO = 0x01, 0x10


class AudioSocketListener:
    """Accepts one AudioSocket connection, keeps ``frames`` audio frames, then closes (the endpoint)."""

    def __init__(self, frames: int) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.want = frames
        self.uuid: str | None = None
        self.audio = bytearray()
        self.frames = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _recv_exact(self, conn: socket.socket, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = conn.recv(n - len(buf))
            if not chunk:
                raise EOFError
            buf += chunk
        return buf

    def _serve(self) -> None:
        self.sock.settimeout(60)
        conn, _ = self.sock.accept()
        with conn:
            try:
                while self.frames < self.want:
                    kind, length = struct.unpack(">BH", self._recv_exact(conn, 3))
                    payload = self._recv_exact(conn, length)
                    if kind == KIND_UUID:
                        self.uuid = str(uuid.UUID(bytes=payload))
                    elif kind == KIND_AUDIO:
                        self.audio += payload
                        self.frames += 1
            except (EOFError, OSError):
                pass
        self.sock.close()


def _call(db_url: str, uniqueid: str) -> Call:
    with session_scope(db_url) as s:
        call = s.scalar(select(Call).where(Call.uniqueid == uniqueid))
        assert call is not None
        s.expunge(call)
        return call


def test_caller_audio_reaches_audiosocket_then_the_queue(telephony_stack: TelephonyStack) -> None:
    stack = telephony_stack
    listener = AudioSocketListener(frames=150)  # 3 s of 20 ms frames, then "end of utterance"
    stack.asterisk.set_global("AUDIOSOCKET_ADDR", f"127.0.0.1:{listener.port}")
    stack.asterisk.set_global("SPEECH_STEP", "1")
    r = stack.place_call(keys="1", agents=1, talk_s=1, sounds=("callcenter/speech/paddlespeech_zh",))
    listener.thread.join(10)
    call = _call(stack.database_url, r["uniqueid"])
    audio_uuid = call.data["ivr"]["intake"]["audio_uuid"]
    assert listener.uuid == audio_uuid
    meta: Any = json.loads(stack.redis.get(audiosocket_key(audio_uuid)))
    assert meta["uniqueid"] == call.uniqueid
    assert listener.frames == 150 and len(listener.audio) == 150 * 320
    samples = array("h", bytes(listener.audio))
    assert max(abs(x) for x in samples) > 1000  # the caller's speech, not silence
    assert r["answered"] is True and call.queue == "hotline"


def test_speech_service_down_still_reaches_the_queue(telephony_stack: TelephonyStack) -> None:
    stack = telephony_stack
    with socket.socket() as s:  # a port with nobody listening
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    stack.asterisk.set_global("AUDIOSOCKET_ADDR", f"127.0.0.1:{dead}")
    stack.asterisk.set_global("SPEECH_STEP", "1")
    r = stack.place_call(keys="1", agents=1, talk_s=1)
    assert r["answered"] is True and r["disposition"] == "answered"
