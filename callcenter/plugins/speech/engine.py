"""Recognition engine interfaces (识别引擎接口) and result types.

An :class:`Engine` loads its model once per process and opens any number of
:class:`StreamingSession` objects (one per call). A session is fed 16-bit signed little-endian mono
PCM (8 kHz or 16 kHz) in chunks of any size and returns partial and final :class:`Result` objects
with timestamps relative to the start of the stream. ``transcribe_file`` is the file API.

Sessions are not thread-safe: feed one session from one thread at a time (the AudioSocket server
runs each session's work sequentially on a shared worker pool).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

#: Sample rates accepted by the streaming sessions (telephone band and wide band).
SUPPORTED_RATES = (8000, 16000)


class SpeechError(Exception):
    """Base class of speech recognition errors."""


class AudioFormatError(SpeechError, ValueError):
    """The audio cannot be used (not audio, wrong sample rate or width, odd byte count)."""


class ModelMissingError(SpeechError, FileNotFoundError):
    """A model is not installed; the message names the command that installs it."""


@dataclass(frozen=True)
class Word:
    """A recognised word with its time span (seconds from stream start) and confidence."""

    word: str
    start_s: float
    end_s: float
    confidence: float | None = None


@dataclass(frozen=True)
class Result:
    """A partial (临时) or final (最终) recognition result."""

    text: str
    start_s: float
    end_s: float
    final: bool
    engine: str
    words: tuple[Word, ...] = ()
    confidence: float | None = None


@dataclass(frozen=True)
class FileTranscript:
    """The transcript of a whole file."""

    text: str
    engine: str
    duration_s: float
    utterances: tuple[Result, ...] = field(default=())


@runtime_checkable
class StreamingSession(Protocol):
    """One audio stream being recognised."""

    sample_rate: int

    def accept(self, pcm: bytes) -> list[Result]:
        """Feed PCM; return the results that became available (partials and finals)."""
        ...

    def finish(self) -> list[Result]:
        """End of stream: flush and return the remaining final results."""
        ...


@runtime_checkable
class Engine(Protocol):
    """A loaded recognition model."""

    name: str

    def open_session(self, sample_rate: int, *, grammar: Sequence[str] | None = None) -> StreamingSession:
        """A new streaming session for PCM at ``sample_rate`` (8000 or 16000)."""
        ...

    def transcribe_file(self, path: Path) -> FileTranscript:
        """Recognise a whole audio file (any format libsndfile reads)."""
        ...


def check_rate(sample_rate: int) -> int:
    """``sample_rate`` if supported, else :class:`AudioFormatError`."""
    if sample_rate not in SUPPORTED_RATES:
        raise AudioFormatError(
            f"unsupported sample rate {sample_rate} Hz: streams must be 8000 or 16000 Hz 16-bit mono PCM"
        )
    return sample_rate
