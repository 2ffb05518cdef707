"""One AudioSocket connection = one recognition session tied to a call (通话转写会话).

:class:`CallSession` reads frames, feeds the audio through a bounded queue to a
:class:`~callcenter.plugins.speech.twopass.TwoPassRecognizer` on the partial worker pool, sends ended
utterances to the
final worker pool, and reports partials, finals and the end of the session to a
:class:`TranscriptSink`.

Intake mode (描述诉求): the session stops reading — and the server closes the socket so the dialplan
goes on to the queue — when the caller has finished (``end_silence_s`` of silence after at least
``min_speech_s`` of speech), when nobody spoke for ``no_speech_timeout_s``, at
``max_duration_s``, on ``#``, on hangup/EOF, or on bad input. Spy mode (ChanSpy 全程转写) only
ends on hangup/EOF, idle timeout or bad input. Audio accepted before the end is always decoded.

Back-pressure: the audio queue is bounded (the reader waits, so TCP pushes back). The consumer
takes up to ``max_batch_s`` of queued audio per recognizer call, so under load older partials are
skipped; when more than ``max_partial_lag_s`` of audio is waiting, the oldest audio goes to the VAD
and the final pass only (the partial recognizer restarts on recent audio). Every sample reaches the
final pass; finals are never dropped. Audio still queued when an intake session ends (e.g. past
``max_duration_s``) is discarded.

Finals go to the process-wide :class:`~callcenter.plugins.speech.final_queue.FinalQueue` when the
service gives one (they are reported in order; the session's slot is freed when its input ends), and
a speculative decode may start during the end-of-utterance silence (``speculative_finals``). An intake
session that delivers less than ``min_audio_ratio`` of real-time audio ends as ``slow_audio``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from callcenter.observability import ASR_SPECULATIVE
from callcenter.plugins.speech.audiosocket.protocol import (
    DEFAULT_MAX_PAYLOAD,
    Kind,
    ProtocolError,
    read_frame,
)
from callcenter.plugins.speech.engine import SUPPORTED_RATES, Result
from callcenter.plugins.speech.final_queue import FinalQueue
from callcenter.plugins.speech.twopass import FeedOutput, TwoPassRecognizer
from callcenter.plugins.speech.vad import Utterance

log = logging.getLogger(__name__)

Mode = Literal["intake", "spy"]
#: a final in order: (seq, the result made while feeding, or the pending decode of an utterance)
_Final = tuple[int, Result | Awaitable[Result | None]]


@dataclass(frozen=True)
class CallInfo:
    """The call an AudioSocket stream belongs to (from Redis ``cc:audiosocket:{uuid}``)."""

    audio_uuid: str
    uniqueid: str
    linkedid: str | None = None
    caller: str | None = None
    dialled: str | None = None
    mode: Mode = "intake"
    mapped: bool = True

    @classmethod
    def from_mapping(cls, audio_uuid: str, data: dict[str, Any] | None) -> CallInfo:
        """From the JSON the intake AGI wrote; ``None`` → the UUID stands in for the call id."""
        if not data or not data.get("uniqueid"):
            return cls(audio_uuid=audio_uuid, uniqueid=audio_uuid, mapped=False)
        mode: Mode = "spy" if data.get("mode") == "spy" else "intake"

        def opt(key: str) -> str | None:
            value = data.get(key)
            return str(value) if value not in (None, "") else None

        return cls(
            audio_uuid=audio_uuid,
            uniqueid=str(data["uniqueid"]),
            linkedid=opt("linkedid"),
            caller=opt("caller"),
            dialled=opt("dialled"),
            mode=mode,
        )


@dataclass(frozen=True)
class SessionPolicy:
    """When a session ends and how much it buffers."""

    end_silence_s: float = 1.0
    min_speech_s: float = 0.5
    no_speech_timeout_s: float = 8.0
    max_duration_s: float = 120.0
    idle_timeout_s: float = 10.0  # no frame at all for this long = the peer is gone
    spy_idle_timeout_s: float = 300.0
    audio_queue_frames: int = 250  # 5 s of 20 ms frames
    max_batch_s: float = 0.5  # audio coalesced into one recognizer call when the consumer lags
    max_partial_lag_s: float = 1.0  # queued audio beyond this skips the partial pass (VAD + finals only)
    partial_every_s: float = 2.0  # ... in runs of this much audio, alternating with runs with partials
    finish_digit: str = "#"
    max_payload: int = DEFAULT_MAX_PAYLOAD
    # minimum audio rate of intake sessions (slow senders, issue 12 item 6): a token bucket of wall
    # time — it starts with ``min_audio_grace_s``, every second of audio adds 1 / ``min_audio_ratio``
    # seconds (at most ``min_audio_window_s`` banked), and the session ends ("slow_audio") when it is
    # empty. Asterisk sends 20 ms frames in real time (``transmit_silence``), i.e. twice the need at 0.5.
    # Time the reader waits for our own audio queue is not charged. 0 = no minimum.
    min_audio_ratio: float = 0.5
    min_audio_grace_s: float = 3.0
    min_audio_window_s: float = 10.0
    # start the final decode during the end-of-utterance silence (once the VAD's tail is complete) and
    # keep it if the silence holds — only when the final queue is idle (speculation is shed first)
    speculative_finals: bool = True


def close_reason(
    policy: SessionPolicy, mode: Mode, speech_s: float, trailing_silence_s: float, total_s: float
) -> str | None:
    """Why an intake session should stop now (``None`` = keep listening). Pure."""
    if mode == "spy":
        return None
    if speech_s >= policy.min_speech_s and trailing_silence_s >= policy.end_silence_s:
        return "caller_done"
    if speech_s < policy.min_speech_s and total_s >= policy.no_speech_timeout_s:
        return "no_speech"
    if total_s >= policy.max_duration_s:
        return "max_duration"
    return None


class TranscriptSink(Protocol):
    """Where a session's results go (Redis + database in :mod:`callcenter.plugins.speech.service`). Must not
    raise."""

    async def start(self, call: CallInfo) -> None: ...

    async def partial(self, call: CallInfo, seq: int, result: Result) -> None: ...

    async def final(self, call: CallInfo, seq: int, result: Result) -> None: ...

    async def done(self, call: CallInfo, summary: SessionSummary) -> None: ...


@dataclass
class SessionSummary:
    """How a session ended."""

    reason: str
    text: str = ""
    finals: list[Result] = field(default_factory=list)
    audio_s: float = 0.0
    speech_s: float = 0.0
    sample_rate: int | None = None
    error: str | None = None
    engine: str = ""
    partial_skipped_s: float = 0.0  # audio that bypassed the partial pass because the session lagged


@dataclass(frozen=True, eq=False)
class FinalJob:
    """One utterance waiting in the final queue, with the recognizer of its call."""

    utterance: Utterance
    recognizer: TwoPassRecognizer

    @property
    def seconds(self) -> float:
        return len(self.utterance.pcm) / 2 / self.utterance.sample_rate


class SessionError(Exception):
    """Input the session cannot use (e.g. unsupported sample rate); ends the session cleanly."""


class CallSession:
    """Runs one call's stream; see the module docstring."""

    def __init__(
        self,
        call: CallInfo,
        *,
        make_recognizer: Callable[[int], TwoPassRecognizer],
        sink: TranscriptSink,
        partial_pool: Executor,
        final_pool: Executor,
        policy: SessionPolicy | None = None,
        final_queue: FinalQueue[FinalJob, Result | None] | None = None,
    ) -> None:
        self.call = call
        self.final_queue = final_queue
        self.policy = policy or SessionPolicy()
        self.make_recognizer = make_recognizer
        self.sink = sink
        self.partial_pool = partial_pool
        self.final_pool = final_pool
        self.recognizer: TwoPassRecognizer | None = None
        self.sample_rate: int | None = None
        self.summary = SessionSummary(reason="running")
        self._close_reason: str | None = None
        self._read_task: asyncio.Task[str] | None = None
        self._utt_index = 0
        self._last_partial_key: tuple[int, str] | None = None
        self.frames = 0
        self._queued_bytes = 0
        self._received_s = 0.0
        self._skip_mode = False  # lagging: in a run of audio without the partial pass
        self._run_s = 0.0  # audio in the current run (with or without partials) while lagging
        self._spec: tuple[FinalJob, asyncio.Future[Result | None]] | None = None
        self.speculative = {"hit": 0, "miss": 0}
        self.started = time.monotonic()

    # -- entry point ---------------------------------------------------------------------------
    async def run(
        self, reader: asyncio.StreamReader, input_closed: Callable[[], None] | None = None
    ) -> SessionSummary:
        """Read until the session ends, call ``input_closed``, then finish decoding and report."""
        await self.sink.start(self.call)
        audio_q: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=self.policy.audio_queue_frames)
        final_q: asyncio.Queue[_Final | None] = asyncio.Queue()
        consumer = asyncio.create_task(
            self._consume(audio_q, final_q), name=f"asr-consume-{self.call.uniqueid}"
        )
        finals = asyncio.create_task(self._finals(final_q), name=f"asr-finals-{self.call.uniqueid}")
        self._read_task = asyncio.create_task(
            self._read(reader, audio_q), name=f"asr-read-{self.call.uniqueid}"
        )
        reason = "hangup"
        try:
            reason = await self._read_task
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if self._close_reason is None or (task is not None and task.cancelling()):
                consumer.cancel()
                finals.cancel()
                raise
            reason = self._close_reason
        finally:
            if input_closed is not None:
                input_closed()
        await audio_q.put(None)
        await consumer
        await final_q.put(None)
        await finals
        self.summary.reason = self._close_reason or reason
        self.summary.text = "".join(r.text for r in self.summary.finals)
        self.summary.sample_rate = self.sample_rate
        if self.recognizer is not None:
            self.summary.audio_s = round(self.recognizer.segmenter.total_s, 3)
            self.summary.speech_s = round(self.recognizer.segmenter.speech_s, 3)
            self.summary.engine = self.recognizer.final_engine_name
        await self.sink.done(self.call, self.summary)
        return self.summary

    # -- reading -------------------------------------------------------------------------------
    def _slow_audio(self) -> str:
        ratio = self.policy.min_audio_ratio
        log.warning(
            "audiosocket %s: slow sender: less than %.0f %% of real-time audio (%.2f s in %.1f s), ending",
            self.call.uniqueid,
            ratio * 100,
            self._received_s,
            time.monotonic() - self.started,
        )
        self.summary.error = f"audio slower than {ratio:.0%} of real time"
        return "slow_audio"

    async def _read(self, reader: asyncio.StreamReader, audio_q: asyncio.Queue[bytes | None]) -> str:
        idle = self.policy.spy_idle_timeout_s if self.call.mode == "spy" else self.policy.idle_timeout_s
        # spy sessions exist only for UUIDs the worker mapped (ChanSpy legs may pause); intake sessions
        # — including every unmapped UUID — must keep up a minimum audio rate
        ratio = self.policy.min_audio_ratio if self.call.mode == "intake" else 0.0
        allowance = self.policy.min_audio_grace_s  # wall seconds left before the session is too slow
        last = time.monotonic()
        while True:
            # A stop decided by the recognizer (caller_done, max_length, ...) cancels this task, but a
            # cancel that lands in the same loop turn as a frame can be lost (asyncio.wait_for on
            # Python 3.11); frames come every 20 ms, so check the decision on every turn too.
            if self._close_reason is not None:
                return self._close_reason
            rate_bound = ratio > 0 and allowance < idle
            try:
                async with asyncio.timeout(max(allowance, 0.0) if rate_bound else idle):
                    frame = await read_frame(reader, self.policy.max_payload)
            except TimeoutError:
                if rate_bound:
                    return self._slow_audio()
                log.warning("audiosocket %s: no frame for %.0f s, ending", self.call.uniqueid, idle)
                return "idle_timeout"
            except ProtocolError as exc:
                log.warning("audiosocket %s: bad frame: %s", self.call.uniqueid, exc)
                self.summary.error = str(exc)
                return "protocol_error"
            except (ConnectionError, OSError) as exc:
                log.info("audiosocket %s: connection lost: %s", self.call.uniqueid, exc)
                return "hangup"
            if frame is None:
                return "hangup"  # Asterisk closes the socket without a hangup frame
            self.frames += 1
            if ratio > 0:
                now = time.monotonic()
                allowance -= now - last
                last = now
                if frame.is_audio and frame.payload:
                    seconds = len(frame.payload) / 2 / frame.sample_rate
                    self._received_s += seconds
                    allowance = min(self.policy.min_audio_window_s, allowance + seconds / ratio)
                if allowance <= 0:
                    return self._slow_audio()
            if frame.is_audio:
                if not frame.payload:
                    continue
                rate = frame.sample_rate
                if self.sample_rate is None:
                    if rate not in SUPPORTED_RATES:
                        self.summary.error = f"unsupported sample rate {rate} Hz (need 8000 or 16000)"
                        log.warning("audiosocket %s: %s", self.call.uniqueid, self.summary.error)
                        return "bad_audio"
                    self.sample_rate = rate
                elif rate != self.sample_rate:
                    self.summary.error = (
                        f"sample rate changed from {self.sample_rate} to {rate} Hz mid-stream"
                    )
                    log.warning("audiosocket %s: %s", self.call.uniqueid, self.summary.error)
                    return "bad_audio"
                await audio_q.put(frame.payload)
                self._queued_bytes += len(frame.payload)
                last = time.monotonic()  # a wait for our own queue is not the peer's slowness
            elif frame.kind == Kind.HANGUP:
                return "hangup"
            elif frame.kind == Kind.DTMF:
                log.info("audiosocket %s: DTMF %s", self.call.uniqueid, frame.digit)
                if self.call.mode == "intake" and frame.digit == self.policy.finish_digit:
                    return "dtmf"
            elif frame.kind == Kind.ERROR:
                self.summary.error = f"Asterisk reported error code {frame.error_code}"
                log.warning("audiosocket %s: %s", self.call.uniqueid, self.summary.error)
                return "asterisk_error"
            elif frame.kind == Kind.UUID:
                log.warning("audiosocket %s: repeated UUID frame ignored", self.call.uniqueid)

    def _stop_reading(self, reason: str) -> None:
        if self._close_reason is None:
            self._close_reason = reason
            log.info("audiosocket %s: ending session (%s)", self.call.uniqueid, reason)
            if self._read_task is not None and not self._read_task.done():
                self._read_task.cancel()

    # -- recognition ---------------------------------------------------------------------------
    async def _consume(
        self,
        audio_q: asyncio.Queue[bytes | None],
        final_q: asyncio.Queue[_Final | None],
    ) -> None:
        loop = asyncio.get_running_loop()
        failed = False
        while True:
            chunks = [await audio_q.get()]
            max_batch = int(self.policy.max_batch_s * (self.sample_rate or 8000)) * 2
            size = len(chunks[0] or b"")
            while chunks[-1] is not None and size < max_batch and not audio_q.empty():
                chunks.append(audio_q.get_nowait())
                size += len(chunks[-1] or b"")
            end = chunks[-1] is None
            pcm = b"".join(c for c in chunks if c)
            self._queued_bytes -= len(pcm)
            if self._close_reason is not None:
                pcm = b""  # audio after the end of the session (e.g. past max_duration) is not used
            if failed:
                if end:
                    return
                continue
            try:
                if pcm:
                    if self.recognizer is None:
                        assert self.sample_rate is not None
                        self.recognizer = await loop.run_in_executor(
                            self.partial_pool, self.make_recognizer, self.sample_rate
                        )
                    rate = self.sample_rate or 8000
                    seconds = len(pcm) / 2 / rate
                    shed = self.final_queue is not None and self.final_queue.shed_partials
                    # behind real time (this session's own lag): alternate ``partial_every_s`` of audio
                    # with and without the partial pass — with first, so a lag at the start of a
                    # session does not skip the caller's first words, and in runs, because the partial
                    # recognizer needs a run of audio to say anything; a long final queue (shed)
                    # sheds partials for every session
                    lagging = self._queued_bytes > self.policy.max_partial_lag_s * rate * 2
                    every = self.policy.partial_every_s
                    if not lagging:
                        self._skip_mode, self._run_s = False, 0.0
                    elif self._run_s >= every:
                        self._skip_mode, self._run_s = not self._skip_mode, 0.0
                    if (shed or (lagging and self._skip_mode)) and self.recognizer.can_skip_partials:
                        # drop this (oldest) partial work; VAD and finals still see it
                        self.summary.partial_skipped_s += seconds
                        out = await loop.run_in_executor(self.partial_pool, self.recognizer.feed, pcm, False)
                    else:
                        out = await loop.run_in_executor(self.partial_pool, self.recognizer.feed, pcm)
                    if lagging:
                        self._run_s += seconds
                    await self._handle(out, final_q)
                    self._speculate()
                    seg = self.recognizer.segmenter
                    reason = close_reason(
                        self.policy, self.call.mode, seg.speech_s, seg.trailing_silence_s, seg.total_s
                    )
                    if reason is not None:
                        self._stop_reading(reason)
                if end:
                    if self.recognizer is not None:
                        out = await loop.run_in_executor(self.partial_pool, self.recognizer.finish)
                        await self._handle(out, final_q)
                    return
            except Exception as exc:  # a recognizer failure ends this session, never the server
                log.exception("audiosocket %s: recognition failed", self.call.uniqueid)
                self.summary.error = f"recognition failed: {exc}"
                self._stop_reading("recognizer_error")
                failed = True
                if end:
                    return

    async def _handle(self, out: FeedOutput, final_q: asyncio.Queue[_Final | None]) -> None:
        if out.partials:
            latest = out.partials[-1]  # older partials of this batch are superseded
            key = (self._utt_index, latest.text)
            if key != self._last_partial_key:
                self._last_partial_key = key
                await self.sink.partial(self.call, self._utt_index, latest)
        for r in out.finals:
            await final_q.put((self._utt_index, r))
            self._utt_index += 1
        for utt in out.utterances:
            # queued for decoding at once (the process-wide final queue when there is one); the
            # results are reported in order by _finals
            await final_q.put((self._utt_index, self._adopt_speculation(utt) or self._submit(utt)))
            self._utt_index += 1

    # -- speculative finals --------------------------------------------------------------------
    def _drop_speculation(self) -> None:
        if self._spec is not None:
            self._spec[1].cancel()  # skipped by the queue if not started; a running decode is discarded
            self.speculative["miss"] += 1
            ASR_SPECULATIVE.labels("miss").inc()
            self._spec = None

    def _speculate(self) -> None:
        """During the end-of-utterance silence: decode the utterance as it will be cut if the silence
        holds (the recognizer's ``speculative_utterance``), when the final queue has nothing waiting."""
        if not self.policy.speculative_finals or self.final_queue is None:
            return
        candidate_of = getattr(self.recognizer, "speculative_utterance", None)
        candidate: Utterance | None = candidate_of() if candidate_of is not None else None
        if candidate is None:
            self._drop_speculation()  # speech resumed (or nothing in progress)
            return
        if self._spec is not None and self._spec[0].utterance.pcm == candidate.pcm:
            return  # the silence holds: the decode already started is still the one
        self._drop_speculation()
        if not self.final_queue.idle or self.recognizer is None:
            return  # shed first: speculation only on an idle queue
        job = FinalJob(candidate, self.recognizer)
        self._spec = (job, self.final_queue.submit(job, job.seconds, self._decode))

    def _adopt_speculation(self, utterance: Utterance) -> Awaitable[Result | None] | None:
        """The speculative decode of ``utterance`` when it was made on exactly its audio."""
        spec, self._spec = self._spec, None
        if spec is None:
            return None
        candidate, future = spec[0].utterance, spec[1]
        if candidate.pcm != utterance.pcm or candidate.start_s != utterance.start_s or future.cancelled():
            future.cancel()
            self.speculative["miss"] += 1
            ASR_SPECULATIVE.labels("miss").inc()
            return None
        self.speculative["hit"] += 1
        ASR_SPECULATIVE.labels("hit").inc()
        adopted = getattr(self.recognizer, "adopt_speculation", None)
        if adopted is not None:
            adopted(utterance, future)
        return future

    @staticmethod
    def _decode(job: FinalJob, cheap: bool) -> Result | None:
        """Runs on a final worker: the recognizer's final, or its cheap variant under a long backlog
        (the final queue's ``batch_decode``, when set, decodes instead)."""
        decode_cheap = getattr(job.recognizer, "decode_cheap", None)
        if cheap and decode_cheap is not None:
            result: Result | None = decode_cheap(job.utterance)
            return result
        return job.recognizer.decode(job.utterance)

    def _submit(self, utterance: Utterance) -> Awaitable[Result | None]:
        assert self.recognizer is not None
        job = FinalJob(utterance, self.recognizer)
        if self.final_queue is not None:
            return self.final_queue.submit(job, job.seconds, self._decode)
        loop = asyncio.get_running_loop()
        return asyncio.ensure_future(loop.run_in_executor(self.final_pool, self._decode, job, False))

    async def _finals(self, final_q: asyncio.Queue[_Final | None]) -> None:
        while (item := await final_q.get()) is not None:
            seq, pending = item
            if isinstance(pending, Result):
                result = pending
            else:
                try:
                    decoded = await pending
                except Exception as exc:
                    log.exception("audiosocket %s: final decoding failed", self.call.uniqueid)
                    self.summary.error = f"final decoding failed: {exc}"
                    continue
                if decoded is None:
                    continue
                result = decoded
            self.summary.finals.append(result)
            await self.sink.final(self.call, seq, result)
