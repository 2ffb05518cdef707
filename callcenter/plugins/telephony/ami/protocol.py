"""AMI wire decoding fix (AMI 协议解码).

panoramisk 1.4 decodes every TCP chunk on its own with ``bytes.decode(encoding, 'ignore')``, so a
multi-byte UTF-8 character split across two reads is silently dropped: a CallerIDName 张三 whose
first character straddles a read boundary arrives as 三. :class:`Utf8AMIProtocol` runs the bytes
through an incremental UTF-8 decoder first and hands panoramisk only complete characters (re-encoded),
so the library's own decode can no longer cut one in half. Invalid bytes become U+FFFD instead of
vanishing, which keeps the damage visible.
"""

from __future__ import annotations

import codecs
from typing import Any

from panoramisk.ami_protocol import AMIProtocol


class Utf8AMIProtocol(AMIProtocol):
    """panoramisk's AMI protocol with incremental (split-safe) UTF-8 decoding."""

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def data_received(self, data: bytes) -> None:
        decoder = getattr(self, "_decoder", None)
        if decoder is None:  # used without connection_made (tests feeding bytes directly)
            decoder = self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        text = decoder.decode(data)
        if text:
            super().data_received(text.encode("utf-8"))
