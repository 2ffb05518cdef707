"""Regression: a Chinese CallerIDName split across two TCP reads must survive the AMI layer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from panoramisk.ami_protocol import AMIProtocol

from callcenter.plugins.telephony.ami.protocol import Utf8AMIProtocol

FRAMES = (Path(__file__).parent / "fixtures" / "ami_zhangsan_frames.bin").read_bytes()
NAME = "张三".encode()


class _Factory:
    """Collects what panoramisk dispatches (the manager side of the protocol)."""

    save_stream = None

    def __init__(self) -> None:
        self.events: list[Any] = []

    def dispatch(self, message: Any) -> None:
        self.events.append(message)

    def connection_lost(self, exc: Any) -> None:  # pragma: no cover - not reached
        pass


def _feed(proto_cls: type[AMIProtocol], chunks: list[bytes]) -> list[Any]:
    proto = proto_cls()
    proto.connection_made(transport=None)
    factory = _Factory()
    proto.factory = factory
    proto.encoding = "utf8"  # what panoramisk's Manager sets
    for chunk in chunks:
        proto.data_received(chunk)
    return factory.events


def _names(events: list[Any]) -> list[str]:
    return [str(e.get("CallerIDName")) for e in events]


def _splits_inside_name() -> list[int]:
    """Byte offsets that cut through the UTF-8 bytes of 张三 (every occurrence in the capture)."""
    offsets: list[int] = []
    start = 0
    while (i := FRAMES.find(NAME, start)) >= 0:
        offsets.extend(i + k for k in range(1, len(NAME)) if k % 3 != 0)
        start = i + 1
    return offsets


def test_fixture_is_a_real_capture() -> None:
    events = _feed(Utf8AMIProtocol, [FRAMES])
    assert [e["Event"] for e in events] == ["NewCallerid", "UserEvent", "HangupRequest", "Hangup"]
    assert _names(events) == ["张三"] * 4


def test_plain_panoramisk_loses_the_split_character() -> None:
    """Documents the library bug the fix exists for (if this starts failing, panoramisk fixed it)."""
    cut = FRAMES.find(NAME) + 1  # inside 张
    events = _feed(AMIProtocol, [FRAMES[:cut], FRAMES[cut:]])
    assert _names(events)[0] == "三"


@pytest.mark.parametrize("cut", _splits_inside_name())
def test_split_inside_the_name_keeps_it(cut: int) -> None:
    events = _feed(Utf8AMIProtocol, [FRAMES[:cut], FRAMES[cut:]])
    assert _names(events) == ["张三"] * 4


def test_every_split_and_byte_by_byte() -> None:
    for cut in range(1, len(FRAMES)):
        assert _names(_feed(Utf8AMIProtocol, [FRAMES[:cut], FRAMES[cut:]])) == ["张三"] * 4, cut
    one_by_one = [FRAMES[i : i + 1] for i in range(len(FRAMES))]
    assert _names(_feed(Utf8AMIProtocol, one_by_one)) == ["张三"] * 4


def test_invalid_bytes_are_visible_not_silently_dropped() -> None:
    broken = FRAMES.replace(NAME, b"\xe5\xbc" + "三".encode(), 1)  # truncated 张
    events = _feed(Utf8AMIProtocol, [broken])
    assert _names(events)[0] == "\ufffd三"
