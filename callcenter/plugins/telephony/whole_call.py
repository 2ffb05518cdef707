"""Whole-call transcription (通话全程转写): start streaming a conversation to the speech service when an
agent answers.

The worker loop reads ``agent.connect`` from ``cc:events:agents`` (consumer group ``whole-call``: each
answer is handled once, by one worker). For each it writes the AudioSocket UUID → call mapping the
speech service reads (:func:`callcenter.events.audiosocket_key`, mode ``spy``) and asks the answering
node's AMI
bridge to originate ``AudioSocket/<speech>/<uuid>`` into ``ChanSpy(<caller channel>, qE)``: ChanSpy
mixes both directions and ends with the spied call, so the speech service stores the conversation as
utterances of speaker ``both`` on the call's transcript stream until hang-up.

Off unless ``speech.whole_call`` is true: each talking agent then costs one recognition stream.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from typing import Any

import redis

from callcenter import events
from callcenter.config import Settings

log = logging.getLogger(__name__)

GROUP = "whole-call"
MAPPING_TTL_S = 6 * 3600


def spy_request(
    payload: dict[str, Any], audiosocket_addr: str
) -> tuple[str, dict[str, Any], dict[str, Any]] | None:
    """Pure: for an ``agent.connect`` payload, the (uuid, mapping, spy command args), or None.

    None when the event lacks the caller's channel or uniqueid (nothing to spy on).
    """
    uniqueid = str(payload.get("uniqueid") or "")
    channel = str(payload.get("channel") or "")
    if not uniqueid or not channel or "," in channel:
        return None
    audio_uuid = str(uuid.uuid4())
    mapping = {"uniqueid": uniqueid, "mode": "spy", "agent": payload.get("agent")}
    command = {
        "supervisor": f"AudioSocket/{audiosocket_addr}/{audio_uuid}",
        "target": channel,
        "mode": "listen",
        "caller_id": f"transcribe <{uniqueid[:40]}>",
    }
    return audio_uuid, mapping, command


class WholeCallStarter:
    """Consumes ``agent.connect`` and starts one spy leg per answered call."""

    def __init__(self, client: redis.Redis, audiosocket_addr: str, consumer: str = "worker") -> None:
        self.client = client
        self.addr = audiosocket_addr
        self.consumer = consumer
        self.started = 0
        # "$": answers from before the feature was switched on are not transcribed afterwards
        self.consumer_group = events.StreamConsumer(
            client,
            events.STREAM_AGENTS,
            GROUP,
            consumer,
            start_id="$",
            drop_on=(ValueError, UnicodeDecodeError, TypeError, KeyError),
            name="whole-call",
        )

    def ensure_group(self) -> None:
        self.consumer_group.ensure_group()

    def handle(self, type_: str, data: dict[str, Any]) -> str | None:
        """Start the spy leg for one event; returns the command's action id (None: not an answer)."""
        from callcenter.commands import send_command

        if type_ != "agent.connect":
            return None
        req = spy_request(data, self.addr)
        if req is None:
            log.warning("whole-call: agent.connect without caller channel: %s", data)
            return None
        audio_uuid, mapping, command = req
        self.client.set(
            events.audiosocket_key(audio_uuid), json.dumps(mapping, ensure_ascii=False), ex=MAPPING_TTL_S
        )
        node = str(data.get("node") or "") or None
        action_id = send_command(self.client, "spy", node=node, **command)
        self.started += 1
        log.info(
            "whole-call: transcribing %s (agent %s)",
            mapping["uniqueid"],
            mapping["agent"],
            extra={"uniqueid": mapping["uniqueid"], "audio_uuid": audio_uuid},
        )
        return action_id

    def _handle_entry(self, ev: dict[str, Any]) -> bool:
        return isinstance(ev.get("data"), dict) and self.handle(ev["type"], ev["data"]) is not None

    def run_once(self, block_ms: int = 1000) -> int:
        return self.consumer_group.read(self._handle_entry, block_ms)

    def run_forever(self, stop: threading.Event) -> None:
        self.consumer_group.run_forever(self._handle_entry, stop)


def whole_call_loop(settings: Settings) -> Any:
    """Worker loop factory: None (off) unless ``speech.whole_call``."""
    if not settings.speech.whole_call:
        return None
    from callcenter.events import redis_client

    sp = settings.speech
    starter = WholeCallStarter(
        redis_client(settings.redis_url), f"{sp.audiosocket_host}:{sp.audiosocket_port}"
    )
    return starter.run_forever
