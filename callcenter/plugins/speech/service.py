"""The speech service (语音转写服务): AudioSocket server + engines + Redis + database.

* ``lookup``: Redis ``cc:audiosocket:{uuid}`` (written by the FastAGI intake handler) →
  :class:`~callcenter.plugins.speech.audiosocket.session.CallInfo`; missing or Redis down → the UUID is the
  call id
  (warning).
* :class:`RedisDbSink`: partials → ``transcript_stream(uniqueid)`` (``transcript.partial``);
  finals → that stream and ``STREAM_TRANSCRIPTS`` (``transcript.final``) and a
  ``TranscriptUtterance`` row against the call (``get_or_create_call``); at the end
  ``transcript.done`` with the full text to both streams. A Redis outage is logged and Redis is
  skipped for ``breaker_s`` seconds; the database still receives every final.
* Engines load once per process; the partial and final worker pools are sized to the cores.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import math
import os
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from callcenter.events import audiosocket_key
from callcenter.observability import (
    ASR_ACTIVE,
    ASR_AUDIO_SECONDS,
    ASR_DEGRADED,
    ASR_ERRORS,
    ASR_EVENTS_DROPPED,
    ASR_FINAL_BACKLOG,
    ASR_FINAL_LATENCY,
    ASR_PARTIAL_LATENCY,
    ASR_SESSIONS,
)
from callcenter.plugins.speech.audiosocket.server import AudioSocketServer
from callcenter.plugins.speech.audiosocket.session import (
    CallInfo,
    CallSession,
    FinalJob,
    SessionPolicy,
    SessionSummary,
)
from callcenter.plugins.speech.engine import ModelMissingError, Result
from callcenter.plugins.speech.final_queue import FinalQueue, FinalQueuePolicy
from callcenter.plugins.speech.twopass import FeedOutput, TwoPassConfig, TwoPassRecognizer
from callcenter.plugins.speech.vad import Utterance
from callcenter.plugins.speech.vosk_engine import VoskEngine
from callcenter.plugins.speech.whisper_engine import WhisperEngine, WhisperOptions

log = logging.getLogger(__name__)


def transcript_payload(uniqueid: str, seq: int, result: Result) -> dict[str, Any]:
    """The payload of ``transcript.partial`` / ``transcript.final`` events."""
    return {
        "uniqueid": uniqueid,
        "seq": seq,
        "text": result.text,
        "start_s": result.start_s,
        "end_s": result.end_s,
        "engine": result.engine,
        "final": result.final,
    }


class RedisDbSink:
    """Publishes to Redis and stores finals in the database (never raises)."""

    def __init__(
        self,
        database_url: str | None,
        redis_client: redis.Redis | None,
        *,
        breaker_s: float = 5.0,
        maxlen: int = 100_000,
    ) -> None:
        self.database_url = database_url
        self.redis = redis_client
        self.breaker_s = breaker_s
        self.maxlen = maxlen
        self._redis_down_until = 0.0
        self._seq_base: dict[str, int] = {}
        self._started_at: dict[str, float] = {}  # wall clock of stream position 0, per session
        self.redis_failures = 0
        self.redis_dropped = 0
        self.db_failures = 0
        # One publisher thread keeps the order of events and keeps a slow or dead Redis off the
        # recognition path; when its queue is full, events are dropped (finals are in the DB).
        self._outbox: queue.Queue[tuple[tuple[str, ...], str, dict[str, Any]] | None] = queue.Queue(
            maxsize=5000
        )
        self._publisher = threading.Thread(target=self._publish_loop, name="asr-redis-publisher", daemon=True)
        self._publisher.start()

    # -- Redis ---------------------------------------------------------------------------------
    def _publish(self, streams: tuple[str, ...], type_: str, payload: dict[str, Any]) -> None:
        """Queue an event for the publisher thread (never blocks)."""
        if self.redis is None:
            return
        try:
            self._outbox.put_nowait((streams, type_, payload))
        except queue.Full:
            self.redis_dropped += 1
            ASR_EVENTS_DROPPED.inc()

    def _publish_loop(self) -> None:
        from callcenter.events import publish_now

        while True:
            item = self._outbox.get()
            try:
                if item is None:
                    return
                streams, type_, payload = item
                if self.redis is None or time.monotonic() < self._redis_down_until:
                    self.redis_dropped += 1
                    ASR_EVENTS_DROPPED.inc()
                    continue
                try:
                    for stream in streams:
                        publish_now(self.redis, stream, type_, payload, maxlen=self.maxlen)
                except redis.RedisError as exc:
                    self.redis_failures += 1
                    self.redis_dropped += 1
                    ASR_EVENTS_DROPPED.inc()
                    self._redis_down_until = time.monotonic() + self.breaker_s
                    log.warning(
                        "speech: Redis unavailable (%s); skipping Redis for %.0f s", exc, self.breaker_s
                    )
                except Exception:
                    self.redis_dropped += 1
                    ASR_EVENTS_DROPPED.inc()
                    log.exception("speech: publishing %s failed", type_)
            finally:
                self._outbox.task_done()

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until every queued event is published (or dropped); False on timeout."""
        deadline = time.monotonic() + timeout_s
        while self._outbox.unfinished_tasks:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)
        return True

    def close(self) -> None:
        """Stop the publisher thread after the queued events."""
        self._outbox.put(None)
        self._publisher.join(timeout=5)

    # -- database ------------------------------------------------------------------------------
    def _db_start(self, call: CallInfo) -> int:
        from sqlalchemy import func, select

        from callcenter.db.models import TranscriptUtterance
        from callcenter.db.session import session_scope
        from callcenter.services.calls import get_or_create_call

        with session_scope(self.database_url) as session:
            row = get_or_create_call(
                session,
                call.uniqueid,
                linkedid=call.linkedid,
                caller_number=call.caller,
                dialled_number=call.dialled,
            )
            last = session.scalar(
                select(func.max(TranscriptUtterance.seq)).where(TranscriptUtterance.call_id == row.id)
            )
        return 0 if last is None else int(last) + 1

    def _db_final(self, call: CallInfo, seq: int, result: Result) -> None:
        from sqlalchemy import func, select
        from sqlalchemy.exc import IntegrityError

        from callcenter.db.models import TranscriptUtterance
        from callcenter.db.session import session_scope
        from callcenter.services.calls import get_or_create_call

        for attempt in range(3):
            try:
                with session_scope(self.database_url) as session:
                    row = get_or_create_call(session, call.uniqueid)
                    if attempt:
                        last = session.scalar(
                            select(func.max(TranscriptUtterance.seq)).where(
                                TranscriptUtterance.call_id == row.id
                            )
                        )
                        seq = 0 if last is None else int(last) + 1
                    session.add(
                        TranscriptUtterance(
                            call_id=row.id,
                            seq=seq,
                            speaker="caller" if call.mode == "intake" else "both",
                            text=result.text,
                            start_s=result.start_s,
                            end_s=result.end_s,
                            engine=result.engine,
                            confidence=result.confidence,
                        )
                    )
                return
            except IntegrityError:
                log.warning("speech: utterance seq %d of %s taken, renumbering", seq, call.uniqueid)
        raise RuntimeError(f"could not store utterance of {call.uniqueid}")

    # -- sink API ------------------------------------------------------------------------------
    def _key(self, call: CallInfo) -> str:
        return f"{call.uniqueid}|{call.audio_uuid}"

    async def start(self, call: CallInfo) -> None:
        self._started_at[self._key(call)] = time.time()
        try:
            self._seq_base[self._key(call)] = await asyncio.to_thread(self._db_start, call)
        except Exception:
            self.db_failures += 1
            log.exception("speech: could not register call %s in the database", call.uniqueid)
            self._seq_base[self._key(call)] = 0

    async def partial(self, call: CallInfo, seq: int, result: Result) -> None:
        from callcenter.events import transcript_stream

        payload = transcript_payload(call.uniqueid, self._seq_base.get(self._key(call), 0) + seq, result)
        await asyncio.to_thread(
            self._publish, (transcript_stream(call.uniqueid),), "transcript.partial", payload
        )

    async def final(self, call: CallInfo, seq: int, result: Result) -> None:
        from callcenter.events import STREAM_TRANSCRIPTS, transcript_stream

        seq = self._seq_base.get(self._key(call), 0) + seq
        try:
            await asyncio.to_thread(self._db_final, call, seq, result)
        except Exception:
            self.db_failures += 1
            log.exception("speech: could not store final utterance %d of %s", seq, call.uniqueid)
        payload = transcript_payload(call.uniqueid, seq, result)
        t0 = self._started_at.get(self._key(call))
        payload["ended_at"] = None if t0 is None else round(t0 + result.end_s, 3)  # Unix time, utterance end
        self._publish((transcript_stream(call.uniqueid), STREAM_TRANSCRIPTS), "transcript.final", payload)

    async def done(self, call: CallInfo, summary: SessionSummary) -> None:
        from callcenter.events import STREAM_TRANSCRIPTS, transcript_stream

        self._seq_base.pop(self._key(call), None)
        self._started_at.pop(self._key(call), None)
        payload = {
            "uniqueid": call.uniqueid,
            "text": summary.text,
            "reason": summary.reason,
            "utterances": len(summary.finals),
            "audio_s": summary.audio_s,
            "speech_s": summary.speech_s,
            "engine": summary.engine,
            "mode": call.mode,
            "error": summary.error,
        }
        self._publish((transcript_stream(call.uniqueid), STREAM_TRANSCRIPTS), "transcript.done", payload)


class MeteredRecognizer(TwoPassRecognizer):
    """A :class:`TwoPassRecognizer` that records the speech metrics of this process.

    Final latency (识别时延) runs from the moment the VAD closes an utterance (the end of speech
    is detected) to its final transcript — queueing for a final worker included; a Vosk final
    is made while the audio is fed, so its latency is that feed. Partial latency is the time one
    chunk of audio takes to come out as a partial.
    """

    def __init__(
        self, *args: Any, mode: str = "intake", cheap_whisper: WhisperEngine | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.mode = mode
        self.cheap_whisper = cheap_whisper  # the same model, greedy (beam 1): finals under a long backlog
        self._ended: dict[int, float] = {}  # id(utterance) → when the VAD closed it

    def _mark(self, out: FeedOutput, started: float, seconds: float) -> FeedOutput:
        now = time.monotonic()
        for utt in out.utterances:
            self._ended[id(utt)] = now
        for r in out.finals:
            ASR_FINAL_LATENCY.labels(r.engine).observe(now - started)
        if out.partials:
            ASR_PARTIAL_LATENCY.labels(out.partials[-1].engine).observe(now - started)
        if seconds:
            ASR_AUDIO_SECONDS.labels(self.mode).inc(seconds)
        return out

    def feed(self, pcm: bytes, partials: bool = True) -> FeedOutput:
        started = time.monotonic()
        try:
            out = super().feed(pcm, partials)
        except Exception:
            ASR_ERRORS.labels("stream").inc()
            raise
        if not partials and self.can_skip_partials:
            ASR_DEGRADED.labels("partial_skipped").inc(len(pcm) / 2 / self.sample_rate)
        return self._mark(out, started, len(pcm) / 2 / self.sample_rate)

    def finish(self) -> FeedOutput:
        started = time.monotonic()
        try:
            out = super().finish()
        except Exception:
            ASR_ERRORS.labels("stream").inc()
            raise
        return self._mark(out, started, 0.0)

    def decode(self, utterance: Utterance) -> Result | None:
        return self._decode_with(utterance, None)

    def speculative_utterance(self) -> Utterance | None:
        """The utterance in progress as the VAD will cut it if the current silence holds, once the
        silence covers the VAD's tail (the audio the cut keeps after the last voiced frame); ``None``
        while speech goes on. The session adopts a decode of it only if the real utterance carries
        exactly this audio, so a VAD that cuts differently costs a wasted decode, never a wrong text."""
        seg = self.segmenter
        frames: list[bytes] | None = getattr(seg, "_utt", None)
        silence: int | None = getattr(seg, "_silence_frames", None)
        start_frame: int | None = getattr(seg, "_utt_start_frame", None)
        if not seg.in_speech or frames is None or silence is None or start_frame is None:
            return None
        frame_s = seg.config.frame_ms / 1000
        tail = round(seg.config.tail_s / frame_s)
        if silence < max(1, tail):
            return None
        keep = min(len(frames), max(1, len(frames) - silence + tail))
        start = start_frame * frame_s
        return Utterance(
            pcm=b"".join(frames[:keep]),
            sample_rate=seg.sample_rate,
            start_s=round(start, 3),
            end_s=round(start + keep * frame_s, 3),
        )

    def adopt_speculation(self, utterance: Utterance, future: asyncio.Future[Result | None]) -> None:
        """The final of ``utterance`` is a speculative decode: its latency runs from the VAD's cut to
        when that decode is (or was) done."""
        ended = self._ended.pop(id(utterance), None)

        def observe(done: asyncio.Future[Result | None]) -> None:
            if ended is None or done.cancelled() or done.exception() is not None:
                return
            result = done.result()
            if result is not None:
                ASR_FINAL_LATENCY.labels(result.engine).observe(max(0.0, time.monotonic() - ended))

        future.add_done_callback(observe)

    def observe_final(self, utterance: Utterance, result: Result | None, cheap: bool) -> None:
        """Metrics of a final made by the service's batched decode (as :meth:`decode` records them)."""
        ended = self._ended.pop(id(utterance), None)
        if cheap:
            ASR_DEGRADED.labels("cheap_final").inc(len(utterance.pcm) / 2 / utterance.sample_rate)
        if result is not None and ended is not None:
            ASR_FINAL_LATENCY.labels(result.engine).observe(time.monotonic() - ended)

    def decode_cheap(self, utterance: Utterance) -> Result | None:
        """The final with the greedy engine (back-pressure step 2 of the final queue)."""
        if self.cheap_whisper is None:
            return self.decode(utterance)
        ASR_DEGRADED.labels("cheap_final").inc(len(utterance.pcm) / 2 / utterance.sample_rate)
        return self._decode_with(utterance, self.cheap_whisper)

    def _decode_with(self, utterance: Utterance, engine: WhisperEngine | None) -> Result | None:
        ended = self._ended.pop(id(utterance), None)
        try:
            if engine is None:
                result = super().decode(utterance)
            else:
                utt = utterance
                result = engine.decode_pcm(utt.pcm, utt.sample_rate, utt.start_s, final=True)
        except Exception:
            ASR_ERRORS.labels("final").inc()
            raise
        if result is not None and ended is not None:
            ASR_FINAL_LATENCY.labels(result.engine).observe(time.monotonic() - ended)
        return result


@dataclass
class ServiceOptions:
    """How the service is put together (defaults from ``settings.speech``)."""

    host: str = "127.0.0.1"
    port: int = 9092
    database_url: str | None = None
    redis_url: str | None = None
    twopass: TwoPassConfig = field(default_factory=TwoPassConfig)
    vosk_model: str = "vosk-small-cn"
    workers: int = 0
    max_sessions: int = 64
    handshake_timeout_s: float = 3.0
    max_pending_per_peer: int = 16
    max_sessions_per_peer: int = 0
    allowed_peers: tuple[str, ...] = ()
    policy: SessionPolicy = field(default_factory=SessionPolicy)
    catalogue_hotwords: bool = False
    models_dir: Path | None = None
    final_queue: FinalQueuePolicy = field(default_factory=FinalQueuePolicy)
    final_batch: int = 4  # finals of several calls per Whisper call; 0 = one transcribe() per utterance
    final_min_window_s: float = 10.0  # shortest Whisper encoder window of the batched decode (30 = full)

    @classmethod
    def from_settings(cls, **overrides: Any) -> ServiceOptions:
        from callcenter.config import get_settings

        s = get_settings()
        sp = s.speech
        partial = sp.partial_engine if sp.partial_engine in ("vosk", "whisper", "none") else "vosk"
        final = sp.final_engine if sp.final_engine in ("vosk", "whisper") else "whisper"
        base = cls(
            host=sp.audiosocket_host,
            port=sp.audiosocket_port,
            database_url=s.database_url,
            redis_url=s.redis_url,
            twopass=TwoPassConfig(partial_engine=partial, final_engine=final),  # type: ignore[arg-type]
            workers=sp.workers,
            max_sessions=sp.audiosocket_max_sessions,
            handshake_timeout_s=sp.audiosocket_handshake_timeout_s,
            max_pending_per_peer=sp.audiosocket_max_pending_per_peer,
            max_sessions_per_peer=sp.audiosocket_max_sessions_per_peer,
            allowed_peers=tuple(sp.audiosocket_allowed_peers),
            final_batch=sp.final_batch,
            final_min_window_s=sp.final_min_window_s,
            final_queue=FinalQueuePolicy(
                shed_partials_s=sp.final_queue_shed_partials_s,
                cheap_after_s=sp.final_queue_cheap_after_s,
                max_backlog_s=sp.final_queue_max_backlog_s,
            ),
            policy=SessionPolicy(
                max_duration_s=sp.max_utterance_s,
                speculative_finals=sp.speculative_finals,
                min_audio_ratio=sp.audiosocket_min_audio_ratio,
                min_audio_grace_s=sp.audiosocket_min_audio_grace_s,
                min_audio_window_s=sp.audiosocket_min_audio_window_s,
            ),
            models_dir=sp.models_dir,
        )
        for key, value in overrides.items():
            if value is not None:
                setattr(base, key, value)
        return base


def encoder_window_s(longest_s: float, min_window_s: float) -> float:
    """Whisper encoder window for utterances up to ``longest_s``: the next multiple of 5 s above it
    (0.5 s of margin), at least ``min_window_s``, at most Whisper's 30 s."""
    return min(30.0, max(min_window_s, 5.0 * math.ceil((longest_s + 0.5) / 5.0)))


def worker_count(workers: int) -> int:
    return workers if workers > 0 else (os.cpu_count() or 1)


def load_engines(options: ServiceOptions) -> tuple[VoskEngine | None, WhisperEngine | None, TwoPassConfig]:
    """Load the engines the two-pass configuration needs (once per process).

    A missing Vosk model for the *partial* pass only disables partials (with a warning naming the
    install command); a missing model for the final pass is a :class:`ModelMissingError`.
    """
    from callcenter.plugins.speech.models import resolve_model_path
    from callcenter.plugins.speech.vosk_engine import get_vosk_engine
    from callcenter.plugins.speech.whisper_engine import get_whisper_engine, load_catalogue_hotwords

    cfg = options.twopass
    vosk: VoskEngine | None = None
    whisper: WhisperEngine | None = None
    if "vosk" in (cfg.partial_engine, cfg.final_engine):
        try:
            vosk = get_vosk_engine(resolve_model_path(options.vosk_model, options.models_dir))
        except ModelMissingError as exc:
            if cfg.final_engine == "vosk":
                raise
            log.warning("speech: no partial results: %s", exc)
            cfg = TwoPassConfig(partial_engine="none", final_engine=cfg.final_engine)
    if "whisper" in (cfg.partial_engine, cfg.final_engine):
        workers = worker_count(options.workers)
        whisper = get_whisper_engine(
            resolve_model_path("whisper-base", options.models_dir), cpu_threads=1, num_workers=workers
        )
        if options.catalogue_hotwords:
            try:
                words = load_catalogue_hotwords(options.database_url)
            except Exception:
                log.exception("speech: could not read the matter catalogue for hot words")
                words = ()
            if words:
                whisper = whisper.with_options(WhisperOptions(hotwords=words))
    return vosk, whisper, cfg


class SpeechService:
    """Wires the AudioSocket server to the engines, Redis and the database."""

    def __init__(
        self,
        options: ServiceOptions,
        *,
        vosk: VoskEngine | None = None,
        whisper: WhisperEngine | None = None,
        redis_client: redis.Redis | None = None,
        sink: Any = None,
    ) -> None:
        self.options = options
        self.vosk = vosk
        self.whisper = whisper
        workers = worker_count(options.workers)
        self.partial_pool = ThreadPoolExecutor(workers, thread_name_prefix="asr-partial")
        self.final_pool = ThreadPoolExecutor(workers, thread_name_prefix="asr-final")
        # the same loaded model with greedy decoding, for finals under a long backlog
        self.cheap_whisper = (
            whisper.with_options(dataclasses.replace(whisper.options, beam_size=1)) if whisper else None
        )
        batched = (
            options.final_batch > 0 and whisper is not None and options.twopass.final_engine == "whisper"
        )
        self.final_queue: FinalQueue[FinalJob, Result | None] = FinalQueue(
            self.final_pool,
            workers=workers,
            policy=options.final_queue,
            on_backlog=ASR_FINAL_BACKLOG.set,
            batch_decode=self.decode_finals if batched else None,
            max_batch=options.final_batch,
        )
        if redis_client is None and options.redis_url:
            from callcenter.events import redis_client as make_client

            redis_client = make_client(options.redis_url)
        self.redis = redis_client
        self._lookup_down_until = 0.0
        self.sink = sink or RedisDbSink(options.database_url, redis_client)
        self.server = AudioSocketServer(
            lookup=self.lookup,
            make_session=self.make_session,
            host=options.host,
            port=options.port,
            max_sessions=options.max_sessions,
            first_frame_timeout_s=options.handshake_timeout_s,
            max_payload=options.policy.max_payload,
            max_pending_per_peer=options.max_pending_per_peer,
            max_sessions_per_peer=options.max_sessions_per_peer,
            allowed_peers=options.allowed_peers,
            admit=self.final_queue.admission,
        )

    def decode_finals(self, jobs: list[FinalJob], cheap: bool) -> list[Result | None]:
        """The final queue's batch decode: the utterances of several calls in one Whisper call per
        encoder window; greedy if ``cheap``. Runs on a final worker.

        Deterministic whatever the load: each utterance's encoder window is a function of its own
        length (``encoder_window_s``: the next 5 s above it, ``final_min_window_s`` … 30 s), so a
        batch holding utterances of several window sizes makes one encode + generate per size
        (tests/plugins/speech/test_robustness.py: alone and batched give the same text)."""
        from callcenter.plugins.speech.audio import pcm16_to_float, resample
        from callcenter.plugins.speech.whisper_engine import WHISPER_RATE, decode_batch

        assert self.whisper is not None
        engine = self.cheap_whisper if cheap and self.cheap_whisper is not None else self.whisper
        samples = [
            resample(pcm16_to_float(j.utterance.pcm), j.utterance.sample_rate, WHISPER_RATE) for j in jobs
        ]
        groups: dict[float, list[int]] = {}
        for i, s in enumerate(samples):
            window = encoder_window_s(s.size / WHISPER_RATE, self.options.final_min_window_s)
            groups.setdefault(window, []).append(i)
        results: list[Result | None] = [None] * len(jobs)
        try:
            for window, members in groups.items():
                decoded = decode_batch(
                    engine,
                    [samples[i] for i in members],
                    [jobs[i].utterance.start_s for i in members],
                    window_s=window,
                )
                for i, result in zip(members, decoded, strict=True):
                    results[i] = result
        except Exception:
            ASR_ERRORS.labels("final").inc()
            raise
        for job, result in zip(jobs, results, strict=True):
            if isinstance(job.recognizer, MeteredRecognizer):
                job.recognizer.observe_final(job.utterance, result, cheap)
        return results

    def make_recognizer(self, sample_rate: int, mode: str = "intake") -> TwoPassRecognizer:
        return MeteredRecognizer(
            sample_rate,
            self.options.twopass,
            vosk=self.vosk,
            whisper=self.whisper,
            mode=mode,
            cheap_whisper=self.cheap_whisper,
        )

    def make_session(self, call: CallInfo) -> CallSession:
        return MeteredSession(
            call,
            make_recognizer=lambda rate: self.make_recognizer(rate, call.mode),
            sink=self.sink,
            partial_pool=self.partial_pool,
            final_pool=self.final_pool,
            policy=self.options.policy,
            final_queue=self.final_queue,
        )

    def _lookup_sync(self, audio_uuid: str) -> dict[str, Any] | None:
        if self.redis is None or time.monotonic() < self._lookup_down_until:
            return None
        for candidate in dict.fromkeys((audio_uuid, audio_uuid.upper())):
            raw = self.redis.get(audiosocket_key(candidate))
            if raw is not None:
                data = json.loads(raw)
                return data if isinstance(data, dict) else None
        return None

    async def lookup(self, audio_uuid: str) -> CallInfo:
        try:
            data = await asyncio.to_thread(self._lookup_sync, audio_uuid)
        except (redis.RedisError, ValueError) as exc:
            log.warning("speech: call lookup for %s failed (%s); using the UUID as call id", audio_uuid, exc)
            if isinstance(exc, redis.RedisError):
                self._lookup_down_until = time.monotonic() + 5.0
            data = None
        call = CallInfo.from_mapping(audio_uuid, data)
        if not call.mapped:
            log.warning("speech: no %s in Redis; using the UUID as call id", audiosocket_key(audio_uuid))
        return call

    async def start(self) -> None:
        await self.server.start()

    async def close(self) -> None:
        await self.server.close()
        await self.final_queue.close()
        if isinstance(self.sink, RedisDbSink):
            await asyncio.to_thread(self.sink.close)
        self.partial_pool.shutdown(wait=False, cancel_futures=True)
        self.final_pool.shutdown(wait=False, cancel_futures=True)
        if self.redis is not None:
            self.redis.close()


class MeteredSession(CallSession):
    """A :class:`CallSession` counted in the metrics (sessions in progress, how they ended)."""

    async def run(
        self, reader: asyncio.StreamReader, input_closed: Callable[[], None] | None = None
    ) -> SessionSummary:
        ASR_ACTIVE.inc()
        reason = "failed"
        try:
            summary = await super().run(reader, input_closed)
            reason = summary.reason
            return summary
        finally:
            ASR_ACTIVE.dec()
            ASR_SESSIONS.labels(self.call.mode, reason).inc()


def build_service(**overrides: Any) -> SpeechService:
    """A service from settings (+ overrides), engines loaded."""
    options = ServiceOptions.from_settings(**overrides)
    vosk, whisper, cfg = load_engines(options)
    options.twopass = cfg
    return SpeechService(options, vosk=vosk, whisper=whisper)
