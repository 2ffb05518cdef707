"""AudioSocket wire format (帧编解码).

Every frame is a 3-byte header — 1-byte kind, 2-byte big-endian payload length — followed by the
payload. Kinds: ``0x00`` hangup, ``0x01`` UUID (16 bytes, always first), ``0x03`` DTMF (one ASCII
digit), ``0x10`` audio as 8 kHz signed 16-bit little-endian mono (``0x11``–``0x18``: the same at
12/16/24/32/44.1/48/96/192 kHz in newer Asterisk), ``0xff`` error (optional 1-byte code).

Pure logic: :class:`FrameDecoder` works on bytes; :func:`read_frame` adapts it to an asyncio
``StreamReader``.
"""

from __future__ import annotations

import asyncio
import struct
import uuid as uuid_lib
from dataclasses import dataclass
from enum import IntEnum

HEADER_SIZE = 3
#: Largest payload accepted: 0x10 audio is 320 bytes per 20 ms; 8 KiB covers 48 kHz and bursts.
DEFAULT_MAX_PAYLOAD = 8192


class Kind(IntEnum):
    HANGUP = 0x00
    UUID = 0x01
    DTMF = 0x03
    AUDIO = 0x10
    AUDIO_12K = 0x11
    AUDIO_16K = 0x12
    AUDIO_24K = 0x13
    AUDIO_32K = 0x14
    AUDIO_44K = 0x15
    AUDIO_48K = 0x16
    AUDIO_96K = 0x17
    AUDIO_192K = 0x18
    ERROR = 0xFF


AUDIO_RATES: dict[int, int] = {
    Kind.AUDIO: 8000,
    Kind.AUDIO_12K: 12000,
    Kind.AUDIO_16K: 16000,
    Kind.AUDIO_24K: 24000,
    Kind.AUDIO_32K: 32000,
    Kind.AUDIO_44K: 44100,
    Kind.AUDIO_48K: 48000,
    Kind.AUDIO_96K: 96000,
    Kind.AUDIO_192K: 192000,
}
_RATE_KINDS = {rate: kind for kind, rate in AUDIO_RATES.items()}
_KNOWN = {int(k) for k in Kind}


class ProtocolError(Exception):
    """The peer sent something that is not valid AudioSocket."""


class TruncatedFrame(ProtocolError):
    """The connection ended in the middle of a frame."""


@dataclass(frozen=True)
class Frame:
    kind: int
    payload: bytes

    @property
    def is_audio(self) -> bool:
        return self.kind in AUDIO_RATES

    @property
    def sample_rate(self) -> int:
        return AUDIO_RATES[self.kind]

    @property
    def uuid(self) -> str:
        """The call's UUID in canonical lower-case form (UUID frames only)."""
        return str(uuid_lib.UUID(bytes=self.payload))

    @property
    def digit(self) -> str:
        return self.payload.decode("ascii", errors="replace")

    @property
    def error_code(self) -> int | None:
        return self.payload[0] if self.payload else None


def _validate(kind: int, payload: bytes) -> None:
    if kind not in _KNOWN:
        raise ProtocolError(f"unknown frame kind 0x{kind:02x}")
    if kind == Kind.UUID and len(payload) != 16:
        raise ProtocolError(f"UUID frame must carry 16 bytes, got {len(payload)}")
    if kind == Kind.DTMF and len(payload) != 1:
        raise ProtocolError(f"DTMF frame must carry 1 byte, got {len(payload)}")
    if kind in AUDIO_RATES and len(payload) % 2:
        raise ProtocolError(f"audio frame with an odd byte count ({len(payload)}) is not 16-bit PCM")


def encode_frame(kind: int, payload: bytes = b"") -> bytes:
    """One frame on the wire (validates like the decoder does)."""
    if len(payload) > 0xFFFF:
        raise ProtocolError(f"payload of {len(payload)} bytes does not fit the 16-bit length")
    _validate(kind, payload)
    return struct.pack(">BH", kind, len(payload)) + payload


def uuid_frame(value: str | uuid_lib.UUID) -> bytes:
    u = value if isinstance(value, uuid_lib.UUID) else uuid_lib.UUID(value)
    return encode_frame(Kind.UUID, u.bytes)


def audio_frame(pcm: bytes, sample_rate: int = 8000) -> bytes:
    if sample_rate not in _RATE_KINDS:
        raise ProtocolError(f"no AudioSocket audio kind for {sample_rate} Hz")
    return encode_frame(_RATE_KINDS[sample_rate], pcm)


def hangup_frame() -> bytes:
    return encode_frame(Kind.HANGUP)


def dtmf_frame(digit: str) -> bytes:
    return encode_frame(Kind.DTMF, digit.encode("ascii"))


def error_frame(code: int | None = None) -> bytes:
    return encode_frame(Kind.ERROR, b"" if code is None else bytes([code]))


class FrameDecoder:
    """Incremental decoder: feed bytes as they arrive, get whole frames back."""

    def __init__(self, max_payload: int = DEFAULT_MAX_PAYLOAD) -> None:
        self.max_payload = max_payload
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[Frame]:
        self._buf.extend(data)
        frames: list[Frame] = []
        while len(self._buf) >= HEADER_SIZE:
            kind, length = struct.unpack_from(">BH", self._buf)
            if kind not in _KNOWN:
                raise ProtocolError(f"unknown frame kind 0x{kind:02x}")
            if length > self.max_payload:
                raise ProtocolError(f"frame length {length} exceeds the limit of {self.max_payload} bytes")
            if len(self._buf) < HEADER_SIZE + length:
                break
            payload = bytes(self._buf[HEADER_SIZE : HEADER_SIZE + length])
            del self._buf[: HEADER_SIZE + length]
            _validate(kind, payload)
            frames.append(Frame(kind, payload))
        return frames

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def eof(self) -> None:
        """The stream ended: raise :class:`TruncatedFrame` if a frame was cut short."""
        if self._buf:
            raise TruncatedFrame(f"connection closed inside a frame ({len(self._buf)} bytes pending)")


async def read_frame(reader: asyncio.StreamReader, max_payload: int = DEFAULT_MAX_PAYLOAD) -> Frame | None:
    """The next frame, or ``None`` on a clean EOF between frames."""
    try:
        header = await reader.readexactly(HEADER_SIZE)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise TruncatedFrame(
                f"connection closed inside a frame header ({len(exc.partial)} bytes)"
            ) from None
        return None
    kind, length = struct.unpack(">BH", header)
    if kind not in _KNOWN:
        raise ProtocolError(f"unknown frame kind 0x{kind:02x}")
    if length > max_payload:
        raise ProtocolError(f"frame length {length} exceeds the limit of {max_payload} bytes")
    try:
        payload = await reader.readexactly(length) if length else b""
    except asyncio.IncompleteReadError as exc:
        raise TruncatedFrame(
            f"connection closed after {len(exc.partial)} of {length} payload bytes"
        ) from None
    _validate(kind, payload)
    return Frame(kind, payload)
