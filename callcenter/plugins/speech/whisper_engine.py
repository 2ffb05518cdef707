"""faster-whisper engine for Mandarin (Whisper 普通话识别), utterance-level decoding.

Whisper is not a streaming model: :class:`WhisperSession` cuts the stream into utterances with the
WebRTC VAD (:mod:`callcenter.plugins.speech.vad`) and decodes each one when it ends (``language="zh"``,
CTranslate2 int8
on the CPU). The prompt carries a fixed Mandarin sentence (which also pushes Whisper towards
simplified characters) and hot words drawn from the matter catalogue (:func:`catalogue_hotwords`).
Output goes through OpenCC t2s and punctuation normalisation
(:func:`callcenter.plugins.speech.text.normalize_transcript`).

Partial results (re-decoding the utterance in progress) are a two-pass option
(:mod:`callcenter.plugins.speech.twopass`); on this 2-core machine they are expensive, so the recommended
set-up is Vosk
for partials and Whisper for finals.

The model loads once per process (:func:`get_whisper_engine`); ``num_workers`` CTranslate2 workers
let that many threads decode at the same time.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from callcenter.plugins.speech.audio import FloatArray, pcm16_to_float, read_audio, resample
from callcenter.plugins.speech.engine import FileTranscript, Result, check_rate
from callcenter.plugins.speech.text import collapse_repeats, has_loop, normalize_transcript, utf8_text
from callcenter.plugins.speech.vad import Utterance, UtteranceSegmenter, VadConfig, speech_windows

log = logging.getLogger(__name__)

WHISPER_RATE = 16000
DEFAULT_PROMPT = "以下是普通话的句子，是市民拨打12345热线反映的问题。"

#: Common hotline words used as hot words when no catalogue is available.
DEFAULT_HOTWORDS = (
    "噪音",
    "扰民",
    "施工",
    "供暖",
    "停水",
    "停电",
    "物业",
    "小区",
    "垃圾",
    "占道",
    "井盖",
    "路灯",
    "投诉",
    "举报",
    "街道",
    "社区",
)


@dataclass(frozen=True)
class WhisperOptions:
    """Decoding options: the ONE place where the arguments of every Whisper decode are built
    (:meth:`decode_kwargs`), shared by the file path, the streaming finals and the partials.

    Deterministic by construction: temperature 0 only (no sampling fallback), beam search. The
    token budget of one decode is :meth:`max_new_tokens` (a loop runs to the limit, so the limit
    bounds both the damage and the CPU a loop costs). A decode whose text loops is retried once
    with ``retry_repetition_penalty`` / ``retry_no_repeat_ngram_size``; a loop that survives the
    retry is cut back to its good prefix (see :meth:`WhisperEngine.decode`).
    """

    language: str = "zh"
    beam_size: int = 5
    initial_prompt: str | None = None  # e.g. DEFAULT_PROMPT; measured slightly worse on the test clips
    hotwords: tuple[str, ...] = ()  # e.g. catalogue_hotwords(...) or DEFAULT_HOTWORDS
    max_hotword_chars: int = 120
    tokens_per_second: float = 12.0  # token budget per second of audio (Mandarin: ~4-6 chars/s)
    min_new_tokens: int = 24
    max_new_tokens_cap: int = 220  # Whisper's whole window is 448 tokens, prompt included
    retry_repetition_penalty: float = 1.2
    retry_no_repeat_ngram_size: int = 0
    max_repeats: int = 3  # runs of a char / n-gram longer than this are loops
    without_timestamps: bool = False  # text-only mode drops whole sentences of longer utterances

    def hotword_text(self) -> str | None:
        if not self.hotwords:
            return None
        out: list[str] = []
        size = 0
        for word in self.hotwords:
            if size + len(word) + 1 > self.max_hotword_chars:
                break
            out.append(word)
            size += len(word) + 1
        return "，".join(out)

    def max_new_tokens(self, seconds: float) -> int:
        """Token budget of one decode of ``seconds`` of audio: max(24, 12 x seconds), capped."""
        budget = max(self.min_new_tokens, math.ceil(self.tokens_per_second * seconds))
        return min(budget, self.max_new_tokens_cap)

    def decode_kwargs(self, seconds: float, *, retry: bool = False) -> dict[str, Any]:
        """Keyword arguments of ``WhisperModel.transcribe`` for ``seconds`` of audio."""
        return {
            "language": self.language,
            "beam_size": self.beam_size,
            "initial_prompt": self.initial_prompt,
            "hotwords": self.hotword_text(),
            "temperature": 0.0,  # one temperature: no fallback to sampling, so no randomness
            "compression_ratio_threshold": None,  # loops are handled by the retry and the guards
            "condition_on_previous_text": False,  # measured: carrying text across windows feeds loops
            "without_timestamps": self.without_timestamps,
            "vad_filter": False,  # the caller has already cut the audio
            "max_new_tokens": self.max_new_tokens(seconds),
            "repetition_penalty": self.retry_repetition_penalty if retry else 1.0,
            "no_repeat_ngram_size": self.retry_no_repeat_ngram_size if retry else 0,
        }


def catalogue_hotwords(
    names: Iterable[str], keywords: Iterable[str] = (), limit: int = 40
) -> tuple[str, ...]:
    """Hot words from matter names and keywords (事项名称 / 关键词), short distinct terms first.

    Pure: the caller reads ``Matter.name`` / ``Matter.keywords`` from the database
    (:func:`load_catalogue_hotwords`).
    """
    seen: dict[str, None] = {}
    for term in [*keywords, *names]:
        term = term.strip()
        if 2 <= len(term) <= 8 and term not in seen:
            seen[term] = None
    return tuple(sorted(seen, key=len)[:limit])


def load_catalogue_hotwords(database_url: str | None = None, limit: int = 40) -> tuple[str, ...]:
    """Hot words from the active matters in the database (empty if there are none)."""
    from sqlalchemy import select

    from callcenter.db.models import Matter
    from callcenter.db.session import session_scope

    with session_scope(database_url) as session:
        rows = session.execute(select(Matter.name, Matter.keywords).where(Matter.active.is_(True))).all()
    names = [r[0] for r in rows]
    keywords = [k for r in rows for k in (r[1] or [])]
    return catalogue_hotwords(names, keywords, limit=limit)


class WhisperEngine:
    """A loaded faster-whisper model shared by all sessions of the process."""

    def __init__(
        self,
        model_path: Path,
        *,
        compute_type: str = "int8",
        cpu_threads: int = 0,
        num_workers: int = 1,
        options: WhisperOptions | None = None,
        vad: VadConfig | None = None,
        name: str = "whisper",
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from faster_whisper import WhisperModel

        self.name = name
        self.model_path = Path(model_path)
        self.options = options or WhisperOptions()
        self.vad = vad or VadConfig()
        self.model = WhisperModel(
            str(self.model_path),
            device="cpu",
            compute_type=compute_type,
            cpu_threads=cpu_threads or (os.cpu_count() or 1),
            num_workers=num_workers,
            local_files_only=True,
        )
        self.eot: int = self.model.hf_tokenizer.token_to_id("<|endoftext|>")
        self._bytes_table: list[bytes] | None = None

    def with_options(self, options: WhisperOptions) -> WhisperEngine:
        """A view of this engine (same loaded model) with other decoding options."""
        clone = object.__new__(WhisperEngine)
        clone.__dict__.update(self.__dict__)
        clone.options = options
        return clone

    def _token_bytes(self) -> list[bytes]:
        """The bytes of every text token id (byte-level BPE), built once per model."""
        if self._bytes_table is None:
            tokenizer = self.model.hf_tokenizer
            decoder = _byte_decoder()
            table: list[bytes] = []
            for token_id in range(self.eot):
                piece = tokenizer.id_to_token(token_id) or ""
                table.append(bytes(decoder[ch] for ch in piece if ch in decoder))
            self._bytes_table = table
        return self._bytes_table

    def _run(self, samples: FloatArray, retry: bool) -> tuple[str, list[float]]:
        """One deterministic decode: (normalised text, per-segment avg log-probs)."""
        kwargs = self.options.decode_kwargs(samples.size / WHISPER_RATE, retry=retry)
        segments, _info = self.model.transcribe(samples, **kwargs)
        table = self._token_bytes()
        data = bytearray()
        logprobs: list[float] = []
        # Windows Whisper itself calls silence (no_speech_prob > 0.6 and avg_logprob < -1.0,
        # faster-whisper's defaults) never come out of transcribe. A stricter filter of our own
        # (avg_logprob < -0.8) measured worse: it dropped "流浪地球" (no_speech 0.63, -0.80).
        for seg in segments:
            data.extend(b"".join(table[t] for t in seg.tokens if t < self.eot))
            logprobs.append(seg.avg_logprob)
        # Text from the joined bytes: a character split across segments or cut by the token
        # limit is joined or dropped, never turned into U+FFFD.
        return normalize_transcript(utf8_text(bytes(data))), logprobs

    def decode_text(self, samples: FloatArray) -> tuple[str, list[float], str]:
        """Decode 16 kHz float32 audio to guarded text: (text, avg log-probs, how) — see
        :func:`guarded_decode`."""
        return guarded_decode(lambda retry: self._run(samples, retry), self.options.max_repeats)

    def decode(self, samples: FloatArray, offset_s: float = 0.0, final: bool = True) -> Result | None:
        """Decode one utterance (16 kHz float32). ``None`` when nothing was said."""
        if samples.size < WHISPER_RATE // 10:
            return None
        text, logprobs, _how = self.decode_text(samples)
        if not text:
            return None
        return Result(
            text=text,
            start_s=round(offset_s, 3),
            end_s=round(offset_s + samples.size / WHISPER_RATE, 3),
            final=final,
            engine=self.name,
            confidence=round(float(np.exp(np.mean(logprobs))), 3) if logprobs else None,
        )

    def decode_pcm(
        self, pcm: bytes, sample_rate: int, offset_s: float = 0.0, final: bool = True
    ) -> Result | None:
        """Decode 16-bit PCM at 8 or 16 kHz."""
        return self.decode(
            resample(pcm16_to_float(pcm), check_rate(sample_rate), WHISPER_RATE), offset_s, final
        )

    def open_session(self, sample_rate: int, *, grammar: Sequence[str] | None = None) -> WhisperSession:
        if grammar:
            raise ValueError("grammar mode is a Vosk feature; use the vosk engine for short answers")
        return WhisperSession(self, sample_rate)

    def transcribe_file(self, path: Path) -> FileTranscript:
        """The file path (文件转写): Silero VAD windows of up to 28 s of the original audio
        (:func:`callcenter.plugins.speech.vad.speech_windows`), each decoded once with the
        shared options. Not the streaming segmenter: a file has no latency budget, so it is
        decoded in long windows like plain faster-whisper does, which is what keeps spontaneous
        speech from looping."""
        samples, rate = read_audio(path)
        duration = samples.size / rate
        if rate != WHISPER_RATE:
            samples = resample(samples, rate, WHISPER_RATE)
        results: list[Result] = []
        for start, end in speech_windows(samples, WHISPER_RATE):
            result = self.decode(samples[start:end], offset_s=start / WHISPER_RATE)
            if result is not None:
                results.append(result)
        return FileTranscript(
            text="".join(r.text for r in results),
            engine=self.name,
            duration_s=duration,
            utterances=tuple(results),
        )


class WhisperSession:
    """VAD-segmented Whisper decoding of one stream: a final per utterance, no partials
    (partials come from :class:`callcenter.plugins.speech.twopass.TwoPassRecognizer`)."""

    def __init__(self, engine: WhisperEngine, sample_rate: int) -> None:
        self.sample_rate = check_rate(sample_rate)
        self.engine = engine
        self.segmenter = UtteranceSegmenter(sample_rate, engine.vad)

    def _decode(self, utterances: list[Utterance]) -> list[Result]:
        results = (self.engine.decode_pcm(u.pcm, u.sample_rate, u.start_s) for u in utterances)
        return [r for r in results if r is not None]

    def accept(self, pcm: bytes) -> list[Result]:
        return self._decode(self.segmenter.feed(pcm))

    def finish(self) -> list[Result]:
        return self._decode(self.segmenter.flush())


def guarded_decode(
    run: Callable[[bool], tuple[str, list[float]]], max_repeats: int = 3
) -> tuple[str, list[float], str]:
    """The loop policy around one decode (复读保护). ``run(retry)`` decodes once.

    ``how`` is ``plain`` (the first pass has no loop), ``retry`` (the first pass looped, the
    retry with the repetition penalty did not) or ``collapsed`` (both looped: the first pass is
    kept with every run cut back to one repeat, so the good text before and after the loop
    survives). Whatever the path, the text returned has no run of more than ``max_repeats``
    (:func:`~callcenter.plugins.speech.text.collapse_repeats`, digit strings excepted).
    """
    text, logprobs = run(False)
    how = "plain"
    if has_loop(text, max_repeats):
        retried, retry_logprobs = run(True)
        if not has_loop(retried, max_repeats):
            text, logprobs, how = retried, retry_logprobs, "retry"
        else:
            text, how = collapse_repeats(text, max_repeats, keep=1), "collapsed"
        log.info("whisper: decoder loop (%s): %s", how, text[:80])
    return collapse_repeats(text, max_repeats), logprobs, how


@lru_cache(maxsize=1)
def _byte_decoder() -> dict[str, int]:
    """GPT-2's byte-level BPE alphabet, inverted: the character a token string uses → its byte."""
    printable = list(range(ord("!"), ord("~") + 1))
    printable += list(range(ord("\u00a1"), ord("\u00ac") + 1)) + list(range(ord("\u00ae"), ord("\u00ff") + 1))
    chars = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(printable, chars, strict=True)}


@lru_cache(maxsize=4)
def _cached(path: str, compute_type: str, cpu_threads: int, num_workers: int) -> WhisperEngine:
    return WhisperEngine(
        Path(path), compute_type=compute_type, cpu_threads=cpu_threads, num_workers=num_workers
    )


def get_whisper_engine(
    model_path: Path, *, compute_type: str = "int8", cpu_threads: int = 0, num_workers: int = 1
) -> WhisperEngine:
    """The process-wide engine for ``model_path`` (loaded once)."""
    return _cached(str(model_path), compute_type, cpu_threads, num_workers)


# -- batched finals (the final queue of the speech service, bench/bench_finals.py) ---------------------
#: faster-whisper's own silence rule (its ``no_speech_threshold`` / ``log_prob_threshold`` defaults),
#: which is what :meth:`WhisperEngine._run` gets from ``transcribe``: the batch applies the same one.
NO_SPEECH_PROB = 0.6
SILENCE_LOGPROB = -1.0


def decode_batch(
    engine: WhisperEngine,
    utterances: Sequence[FloatArray],
    offsets_s: Sequence[float],
    *,
    beam_size: int | None = None,
    window_s: float = 30.0,
) -> list[Result | None]:
    """Finals of several utterances (16 kHz float32, e.g. of different calls) in one CTranslate2
    ``encode`` + ``generate`` call. The decode is the one of :meth:`WhisperEngine.decode` — options
    from ``engine.options`` (language, beam, hot words, prompt, token budget of the longest
    utterance), text from the token bytes (no U+FFFD), the same silence rule, and the same loop
    policy (:func:`guarded_decode`: a looping utterance is retried alone with the repetition
    penalty) — only batched; ``beam_size`` overrides the beam. ``window_s`` < 30 pads the encoder
    input to that length instead of 30 s (Whisper was trained on 30 s windows: measure the CER)."""
    from faster_whisper.audio import pad_or_trim
    from faster_whisper.tokenizer import Tokenizer
    from faster_whisper.transcribe import get_suppressed_tokens

    model = engine.model
    opts = engine.options
    frames = round(window_s * 100)
    keep = [i for i, s in enumerate(utterances) if s.size >= WHISPER_RATE // 10]
    out: list[Result | None] = [None] * len(utterances)
    if not keep:
        return out
    features = np.stack(
        [pad_or_trim(model.feature_extractor(utterances[i])[:, :frames], frames) for i in keep]
    ).astype(np.float32)
    tokenizer = Tokenizer(
        model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language=opts.language
    )
    previous = tokenizer.encode(" " + opts.initial_prompt.strip()) if opts.initial_prompt else []
    prompt = model.get_prompt(
        tokenizer, previous, without_timestamps=opts.without_timestamps, hotwords=opts.hotword_text()
    )
    longest_s = max(utterances[i].size for i in keep) / WHISPER_RATE
    encoder_output = model.encode(features)
    results = model.model.generate(
        encoder_output,
        [prompt] * len(keep),
        beam_size=beam_size or opts.beam_size,
        patience=1.0,
        length_penalty=1.0,
        # the token budget of the shared options (as transcribe's max_new_tokens: prompt + budget)
        max_length=min(model.max_length, len(prompt) + opts.max_new_tokens(longest_s)),
        return_scores=True,
        return_no_speech_prob=True,
        suppress_blank=True,
        suppress_tokens=list(get_suppressed_tokens(tokenizer, [-1]) or ()),
        max_initial_timestamp_index=50,
    )
    table = engine._token_bytes()
    for i, res in zip(keep, results, strict=True):
        ids = res.sequences_ids[0]
        avg_logprob = res.scores[0] * len(ids) / (len(ids) + 1)
        if res.no_speech_prob > NO_SPEECH_PROB and avg_logprob < SILENCE_LOGPROB:
            continue
        samples = utterances[i]
        first = (
            normalize_transcript(utf8_text(b"".join(table[t] for t in ids if t < engine.eot))),
            [avg_logprob],
        )

        def run(retry: bool, first: tuple[str, list[float]] = first, samples: FloatArray = samples):
            return engine._run(samples, True) if retry else first

        text, logprobs, _how = guarded_decode(run, opts.max_repeats)
        if not text:
            continue
        out[i] = Result(
            text=text,
            start_s=round(offsets_s[i], 3),
            end_s=round(offsets_s[i] + samples.size / WHISPER_RATE, 3),
            final=True,
            engine=engine.name,
            confidence=round(float(np.exp(np.mean(logprobs))), 3) if logprobs else None,
        )
    return out
