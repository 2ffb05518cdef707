"""AudioSocket frame codec against wire-format byte fixtures (pure)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callcenter.plugins.speech.audiosocket.protocol import (
    Frame,
    FrameDecoder,
    Kind,
    ProtocolError,
    TruncatedFrame,
    audio_frame,
    dtmf_frame,
    encode_frame,
    error_frame,
    hangup_frame,
    read_frame,
    uuid_frame,
)

CALL_UUID = "0f8fad5b-d9cb-469f-a165-70867728950e"
# kind 0x01, length 0x0010, then the 16 UUID bytes
UUID_WIRE = bytes.fromhex("010010") + bytes.fromhex("0f8fad5bd9cb469fa16570867728950e")
AUDIO_WIRE = bytes.fromhex("100140") + bytes(range(256)) + bytes(64)  # 320 bytes = 20 ms at 8 kHz
HANGUP_WIRE = b"\x00\x00\x00"
DTMF_WIRE = b"\x03\x00\x01#"
ERROR_WIRE = b"\xff\x00\x01\x02"


def test_encoders_match_wire_bytes() -> None:
    assert uuid_frame(CALL_UUID) == UUID_WIRE
    assert audio_frame(bytes(range(256)) + bytes(64)) == AUDIO_WIRE
    assert hangup_frame() == HANGUP_WIRE
    assert dtmf_frame("#") == DTMF_WIRE
    assert error_frame(2) == ERROR_WIRE
    assert audio_frame(b"\x00\x00", 16000)[:1] == b"\x12"


def test_decoder_reads_a_stream_split_anywhere() -> None:
    wire = UUID_WIRE + AUDIO_WIRE + DTMF_WIRE + HANGUP_WIRE
    for split in range(1, 12):
        dec = FrameDecoder()
        frames: list[Frame] = []
        for i in range(0, len(wire), split):
            frames.extend(dec.feed(wire[i : i + split]))
        dec.eof()
        assert [f.kind for f in frames] == [Kind.UUID, Kind.AUDIO, Kind.DTMF, Kind.HANGUP]
        assert frames[0].uuid == CALL_UUID
        assert frames[1].sample_rate == 8000 and len(frames[1].payload) == 320
        assert frames[2].digit == "#"


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        (b"\x42\x00\x00", "unknown frame kind 0x42"),
        (b"\x10\xff\xff" + bytes(10), "exceeds the limit"),
        (b"\x01\x00\x04abcd", "UUID frame must carry 16 bytes"),
        (b"\x10\x00\x03abc", "odd byte count"),
        (b"\x03\x00\x02##", "DTMF frame must carry 1 byte"),
    ],
)
def test_decoder_rejects_malformed_frames(wire: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        FrameDecoder().feed(wire)


def test_decoder_eof_mid_frame() -> None:
    dec = FrameDecoder()
    assert dec.feed(AUDIO_WIRE[:100]) == []
    with pytest.raises(TruncatedFrame):
        dec.eof()


def _reader(data: bytes) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return reader


async def test_read_frame_from_stream() -> None:
    reader = _reader(UUID_WIRE + AUDIO_WIRE + ERROR_WIRE)
    first = await read_frame(reader)
    assert first is not None and first.uuid == CALL_UUID
    second = await read_frame(reader)
    assert second is not None and second.is_audio
    third = await read_frame(reader)
    assert third is not None and third.kind == Kind.ERROR and third.error_code == 2
    assert await read_frame(reader) is None  # clean EOF between frames


@pytest.mark.parametrize("cut", [1, 2, 3, 50, len(AUDIO_WIRE) - 1])
async def test_read_frame_truncated(cut: int) -> None:
    with pytest.raises(TruncatedFrame):
        await read_frame(_reader(AUDIO_WIRE[:cut]))


async def test_read_frame_oversized_and_unknown() -> None:
    with pytest.raises(ProtocolError, match="exceeds"):
        await read_frame(_reader(b"\x10\x40\x00" + bytes(0x4000)))
    with pytest.raises(ProtocolError, match="unknown frame kind 0x20"):
        await read_frame(_reader(b"\x20\x00\x00"))


def test_encode_refuses_bad_frames() -> None:
    with pytest.raises(ProtocolError):
        encode_frame(0x42)
    with pytest.raises(ProtocolError):
        audio_frame(b"\x00", 8000)
    with pytest.raises(ProtocolError):
        audio_frame(b"\x00\x00", 11025)


@given(st.binary(max_size=400).filter(lambda b: len(b) % 2 == 0), st.sampled_from([8000, 16000, 48000]))
def test_audio_roundtrip(pcm: bytes, rate: int) -> None:
    (frame,) = FrameDecoder().feed(audio_frame(pcm, rate))
    assert frame.payload == pcm and frame.sample_rate == rate


def test_uuid_roundtrip_random() -> None:
    u = uuid.uuid4()
    (frame,) = FrameDecoder().feed(uuid_frame(u))
    assert frame.uuid == str(u)
