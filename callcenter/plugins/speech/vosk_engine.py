"""Vosk (Kaldi) streaming engine (Vosk 流式识别).

One :class:`VoskEngine` per model per process (:func:`get_vosk_engine` caches it); each call gets a
:class:`VoskSession` wrapping a ``KaldiRecognizer`` with word timings and partial words switched on.

* **Sample rates**: the recognizer is created at the stream's own rate (8 or 16 kHz); Kaldi's online
  feature pipeline resamples to the model rate with its streaming band-limited resampler
  (``--allow-upsample=true`` in the model's ``mfcc.conf``), so 8 kHz telephone audio needs no
  extra step and there are no chunk-boundary artefacts.
* **Endpointing**: Vosk 0.3.45 has no API for the endpointer, which reads the Kaldi ``--endpoint.*``
  options from ``conf/model.conf``. :class:`VoskEndpoint` values are applied by building a
  lightweight overlay model folder (symlinks to the model files plus a rewritten ``model.conf``)
  under ``<models_dir>/.vosk-overlays``.
* **Grammar mode** (语法模式): a list of phrases (e.g. 满意 / 基本满意 / 不满意) restricts decoding to
  them for short answers; ``[unk]`` is added so out-of-grammar speech is not forced onto a phrase.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from callcenter.plugins.speech.audio import read_audio_pcm16
from callcenter.plugins.speech.engine import (
    AudioFormatError,
    FileTranscript,
    ModelMissingError,
    Result,
    Word,
    check_rate,
)
from callcenter.plugins.speech.text import normalize_transcript

log = logging.getLogger(__name__)

UNK = "[unk]"
_CHUNK_S = 0.2  # largest piece handed to AcceptWaveform (endpoint checks happen between pieces)


@dataclass(frozen=True)
class VoskEndpoint:
    """Kaldi endpoint rules (端点规则), seconds. See kaldi ``OnlineEndpointConfig``."""

    rule1_min_trailing_silence: float = 5.0  # nothing decoded yet
    rule2_min_trailing_silence: float = 0.5  # good final state, relative cost < 2
    rule3_min_trailing_silence: float = 1.0  # final state, relative cost < 8
    rule4_min_trailing_silence: float = 2.0  # any state
    rule5_min_utterance_length: float = 20.0  # forced cut

    def options(self) -> list[str]:
        return [
            f"--endpoint.rule1.min-trailing-silence={self.rule1_min_trailing_silence}",
            f"--endpoint.rule2.min-trailing-silence={self.rule2_min_trailing_silence}",
            f"--endpoint.rule3.min-trailing-silence={self.rule3_min_trailing_silence}",
            f"--endpoint.rule4.min-trailing-silence={self.rule4_min_trailing_silence}",
            f"--endpoint.rule5.min-utterance-length={self.rule5_min_utterance_length}",
        ]


def _overlay_root() -> Path:
    from callcenter.config import get_settings

    return get_settings().speech.models_dir / ".vosk-overlays"


def endpoint_overlay(model_path: Path, endpoint: VoskEndpoint, root: Path | None = None) -> Path:
    """A model folder identical to ``model_path`` but with ``endpoint`` in ``conf/model.conf``."""
    model_path = model_path.resolve()
    conf = (model_path / "conf" / "model.conf").read_text(encoding="utf-8").splitlines()
    kept = [line for line in conf if not line.strip().startswith("--endpoint.rule")]  # keep silence-phones
    text = "\n".join([*kept, *endpoint.options()]) + "\n"
    key = hashlib.sha256(f"{model_path}\n{text}".encode()).hexdigest()[:16]
    overlay = (root or _overlay_root()) / f"{model_path.name}-{key}"
    if (overlay / "conf" / "model.conf").is_file():
        return overlay
    tmp = overlay.with_name(overlay.name + f".tmp{os.getpid()}.{threading.get_ident()}")
    (tmp / "conf").mkdir(parents=True, exist_ok=True)
    for entry in model_path.iterdir():
        if entry.name != "conf":
            os.symlink(entry, tmp / entry.name)
    for entry in (model_path / "conf").iterdir():
        if entry.name != "model.conf":
            os.symlink(entry, tmp / "conf" / entry.name)
    (tmp / "conf" / "model.conf").write_text(text, encoding="utf-8")
    try:
        os.replace(tmp, overlay)
    except OSError:  # another process made it first
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return overlay


def _model_rate(model_path: Path) -> int:
    mfcc = model_path / "conf" / "mfcc.conf"
    if mfcc.is_file():
        for line in mfcc.read_text(encoding="utf-8").splitlines():
            if line.strip().startswith("--sample-frequency="):
                return int(float(line.split("=", 1)[1]))
    return 16000


class VoskEngine:
    """A loaded Vosk model shared by all sessions of the process."""

    def __init__(self, model_path: Path, endpoint: VoskEndpoint | None = None, name: str = "vosk") -> None:
        import vosk

        model_path = Path(model_path)
        if not (model_path / "am" / "final.mdl").is_file():
            raise ModelMissingError(
                f"{model_path} is not a Vosk model: "
                "run `callcenter models install vosk-small-cn --from PATH_OR_URL`"
            )
        vosk.SetLogLevel(-1)
        self.name = name
        self.model_path = model_path
        self.endpoint = endpoint
        load_path = endpoint_overlay(model_path, endpoint) if endpoint else model_path
        self.model_rate = _model_rate(model_path)
        self.model = vosk.Model(str(load_path))

    def open_session(self, sample_rate: int, *, grammar: Sequence[str] | None = None) -> VoskSession:
        return VoskSession(self, sample_rate, grammar=grammar)

    def transcribe_file(self, path: Path) -> FileTranscript:
        pcm, rate = read_audio_pcm16(path)
        session = self.open_session(rate)
        step = int(rate * 0.25) * 2
        finals: list[Result] = []
        for i in range(0, len(pcm), step):
            finals.extend(r for r in session.accept(pcm[i : i + step]) if r.final)
        finals.extend(session.finish())
        text = "".join(r.text for r in finals) if _is_cjk(finals) else " ".join(r.text for r in finals)
        return FileTranscript(
            text=text, engine=self.name, duration_s=len(pcm) / 2 / rate, utterances=tuple(finals)
        )


def _is_cjk(results: Sequence[Result]) -> bool:
    return any("\u3400" <= ch <= "\u9fff" for r in results for ch in r.text)


class VoskSession:
    """One stream through a ``KaldiRecognizer``."""

    def __init__(self, engine: VoskEngine, sample_rate: int, *, grammar: Sequence[str] | None = None) -> None:
        import vosk

        self.sample_rate = check_rate(sample_rate)
        self.engine = engine
        if grammar:
            phrases = [p.strip() for p in grammar if p.strip()]
            if not phrases:
                raise ValueError("grammar needs at least one phrase")
            self.grammar: list[str] | None = phrases
            self._rec = vosk.KaldiRecognizer(
                engine.model, sample_rate, json.dumps([*phrases, UNK], ensure_ascii=False)
            )
        else:
            self.grammar = None
            self._rec = vosk.KaldiRecognizer(engine.model, sample_rate)
        self._rec.SetWords(True)
        self._rec.SetPartialWords(True)
        self._samples = 0
        self._utt_start_sample = 0
        self._last_partial = ""

    @property
    def elapsed_s(self) -> float:
        return self._samples / self.sample_rate

    def accept(self, pcm: bytes) -> list[Result]:
        if len(pcm) % 2:
            raise AudioFormatError("16-bit PCM must have an even number of bytes")
        out: list[Result] = []
        step = int(self.sample_rate * _CHUNK_S) * 2
        for i in range(0, len(pcm), step):
            piece = pcm[i : i + step]
            self._samples += len(piece) // 2
            if self._rec.AcceptWaveform(piece):
                final = self._final(json.loads(self._rec.Result()))
                if final is not None:
                    out.append(final)
        if pcm:
            partial = self._partial(json.loads(self._rec.PartialResult()))
            if partial is not None:
                out.append(partial)
        return out

    def finish(self) -> list[Result]:
        final = self._final(json.loads(self._rec.FinalResult()))
        return [final] if final is not None else []

    def reset(self) -> None:
        """Drop the utterance in progress (used when another engine makes the final)."""
        self._rec.Reset()
        self._utt_start_sample = self._samples
        self._last_partial = ""

    # -- parsing -------------------------------------------------------------------------------
    def _words(self, items: list[dict[str, Any]]) -> tuple[Word, ...]:
        return tuple(
            Word(
                word=str(w.get("word", "")),
                start_s=round(float(w.get("start", 0.0)), 3),
                end_s=round(float(w.get("end", 0.0)), 3),
                confidence=float(w["conf"]) if "conf" in w else None,
            )
            for w in items
            if w.get("word") and w.get("word") != UNK
        )

    def _text(self, raw: str) -> str:
        tokens = [t for t in raw.split() if t != UNK]
        return normalize_transcript(" ".join(tokens))

    def _final(self, data: dict[str, Any]) -> Result | None:
        start_default = self._utt_start_sample / self.sample_rate
        self._utt_start_sample = self._samples
        self._last_partial = ""
        text = self._text(str(data.get("text", "")))
        if not text:
            return None
        words = self._words(list(data.get("result", [])))
        confs = [w.confidence for w in words if w.confidence is not None]
        return Result(
            text=text,
            start_s=words[0].start_s if words else round(start_default, 3),
            end_s=words[-1].end_s if words else round(self.elapsed_s, 3),
            final=True,
            engine=self.engine.name,
            words=words,
            confidence=round(sum(confs) / len(confs), 3) if confs else None,
        )

    def _partial(self, data: dict[str, Any]) -> Result | None:
        text = self._text(str(data.get("partial", "")))
        if not text or text == self._last_partial:
            return None
        self._last_partial = text
        words = self._words(list(data.get("partial_result", [])))
        return Result(
            text=text,
            start_s=words[0].start_s if words else round(self._utt_start_sample / self.sample_rate, 3),
            end_s=round(self.elapsed_s, 3),
            final=False,
            engine=self.engine.name,
            words=words,
        )


@lru_cache(maxsize=4)
def _cached_engine(path: str, endpoint_json: str) -> VoskEngine:
    endpoint = VoskEndpoint(**json.loads(endpoint_json)) if endpoint_json else None
    return VoskEngine(Path(path), endpoint=endpoint)


def get_vosk_engine(model_path: Path, endpoint: VoskEndpoint | None = None) -> VoskEngine:
    """The process-wide engine for ``model_path`` (loaded once)."""
    return _cached_engine(str(model_path), json.dumps(asdict(endpoint)) if endpoint else "")
