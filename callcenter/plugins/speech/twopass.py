"""Two-pass recognition (两遍识别): fast partials for liveness, accurate finals for the case text.

The engine of each pass is configuration (:class:`TwoPassConfig`):

* ``partial_engine``: ``vosk`` (streaming Kaldi partials, cheap), ``whisper`` (re-decode the
  utterance in progress every ``whisper_partial_interval_s``, expensive) or ``none``.
* ``final_engine``: ``whisper`` (utterances cut by the WebRTC VAD, decoded when they end) or
  ``vosk`` (Vosk's own endpointer and final results).

:class:`TwoPassRecognizer` is synchronous and holds no I/O: the AudioSocket session runs
:meth:`feed` on the partial worker pool and :meth:`decode` on the final worker pool.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from callcenter.plugins.speech.engine import Result, check_rate
from callcenter.plugins.speech.vad import Utterance, UtteranceSegmenter, VadConfig
from callcenter.plugins.speech.vosk_engine import VoskEngine, VoskSession
from callcenter.plugins.speech.whisper_engine import WhisperEngine

PartialEngine = Literal["vosk", "whisper", "none"]
FinalEngine = Literal["whisper", "vosk"]


@dataclass(frozen=True)
class TwoPassConfig:
    """Which engine runs each pass."""

    partial_engine: PartialEngine = "vosk"
    final_engine: FinalEngine = "whisper"
    whisper_partial_interval_s: float = 1.0

    def __post_init__(self) -> None:
        if self.partial_engine not in ("vosk", "whisper", "none"):
            raise ValueError(f"partial_engine must be vosk, whisper or none, not {self.partial_engine!r}")
        if self.final_engine not in ("whisper", "vosk"):
            raise ValueError(f"final_engine must be whisper or vosk, not {self.final_engine!r}")


@dataclass
class FeedOutput:
    """What one :meth:`TwoPassRecognizer.feed` produced."""

    partials: list[Result] = field(default_factory=list)
    finals: list[Result] = field(default_factory=list)  # made directly (final engine vosk)
    utterances: list[Utterance] = field(default_factory=list)  # to decode (final engine whisper)


class TwoPassRecognizer:
    """One stream through the configured partial and final engines."""

    def __init__(
        self,
        sample_rate: int,
        config: TwoPassConfig,
        *,
        vosk: VoskEngine | None = None,
        whisper: WhisperEngine | None = None,
        vad: VadConfig | None = None,
    ) -> None:
        self.sample_rate = check_rate(sample_rate)
        self.config = config
        needs_vosk = config.partial_engine == "vosk" or config.final_engine == "vosk"
        needs_whisper = config.partial_engine == "whisper" or config.final_engine == "whisper"
        if needs_vosk and vosk is None:
            raise ValueError("this configuration needs a Vosk engine")
        if needs_whisper and whisper is None:
            raise ValueError("this configuration needs a Whisper engine")
        self.whisper = whisper
        self.segmenter = UtteranceSegmenter(sample_rate, vad or (whisper.vad if whisper else None))
        self.vosk_session: VoskSession | None = (
            vosk.open_session(sample_rate) if vosk and needs_vosk else None
        )
        self._utt_audio = bytearray()
        self._since_partial_s = 0.0
        self._last_whisper_partial = ""
        self._partials_stale = False

    @property
    def final_engine_name(self) -> str:
        if self.config.final_engine == "vosk":
            assert self.vosk_session is not None
            return self.vosk_session.engine.name
        assert self.whisper is not None
        return self.whisper.name

    @property
    def can_skip_partials(self) -> bool:
        """True when the partial pass may drop audio (it does not make the finals)."""
        return self.config.final_engine != "vosk" and self.config.partial_engine != "none"

    def feed(self, pcm: bytes, partials: bool = True) -> FeedOutput:
        """Process audio. ``partials=False`` (only when :attr:`can_skip_partials`) runs the VAD only:
        the session uses it to drop the oldest partial work when it lags behind; the partial
        recognizer restarts at the next audio it gets."""
        out = FeedOutput()
        was_in_speech = self.segmenter.in_speech
        ended = self.segmenter.feed(pcm)
        if not partials and self.can_skip_partials:
            self._partials_stale = True
            self._utt_audio.clear()
            self._since_partial_s = 0.0
            if self.config.final_engine == "whisper":
                out.utterances.extend(ended)
            return out
        if self._partials_stale:
            self._partials_stale = False
            if self.vosk_session is not None:
                self.vosk_session.reset()
        if self.vosk_session is not None:
            for r in self.vosk_session.accept(pcm):
                if r.final:
                    if self.config.final_engine == "vosk":
                        out.finals.append(r)
                elif self.config.partial_engine == "vosk":
                    out.partials.append(r)
        if self.config.final_engine == "whisper":
            out.utterances.extend(ended)
            if ended and self.vosk_session is not None:
                self.vosk_session.reset()  # next partials start with the next utterance
        if self.config.partial_engine == "whisper":
            partial = self._whisper_partial(pcm, was_in_speech, bool(ended))
            if partial is not None:
                out.partials.append(partial)
        return out

    def _whisper_partial(self, pcm: bytes, was_in_speech: bool, ended: bool) -> Result | None:
        assert self.whisper is not None
        if ended or not self.segmenter.in_speech:
            self._utt_audio.clear()
            self._since_partial_s = 0.0
            return None
        if not was_in_speech:
            self._utt_audio.clear()
        self._utt_audio.extend(pcm)
        self._since_partial_s += len(pcm) / 2 / self.sample_rate
        if self._since_partial_s < self.config.whisper_partial_interval_s:
            return None
        self._since_partial_s = 0.0
        start = max(0.0, self.segmenter.total_s - len(self._utt_audio) / 2 / self.sample_rate)
        result = self.whisper.decode_pcm(bytes(self._utt_audio), self.sample_rate, start, final=False)
        if result is None or result.text == self._last_whisper_partial:
            return None
        self._last_whisper_partial = result.text
        return result

    def decode(self, utterance: Utterance) -> Result | None:
        """The final of an utterance cut by the VAD (final engine whisper)."""
        assert self.whisper is not None
        return self.whisper.decode_pcm(utterance.pcm, utterance.sample_rate, utterance.start_s, final=True)

    def finish(self) -> FeedOutput:
        """End of stream: the utterance in progress becomes final."""
        out = FeedOutput()
        flushed = self.segmenter.flush()
        if self.config.final_engine == "whisper":
            out.utterances.extend(flushed)
        elif self.vosk_session is not None:
            out.finals.extend(self.vosk_session.finish())
        return out
