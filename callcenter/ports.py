"""Ports (端口): what one capability needs from another, defined once in the kernel.

A port is a typed name. A plugin *provides* it in its manifest (``provides={SUGGESTER: factory}``);
a plugin or the kernel that needs it asks the registry (:func:`callcenter.registry.provide`), never
imports the provider. The shapes below are the whole contract between capabilities:

* :data:`SUGGESTER` — matter / place / unit suggestion for a text (classifier → pipeline, web and
  Open311 intake). ``suggest(text, caller_hint) -> dict`` in the shape of
  ``Suggestion.to_dict()`` (``matters``, ``unit``, ``area``, ``evidence``, ``confidence``, …).
* :data:`ANSWER_RECOGNISER` — the text of a short recorded answer, recognised against a small
  phrase list (speech → return-visit IVR): ``recognise(wav_path, phrases) -> str``.
* :data:`FILE_TRANSCRIBER` — the text of a whole recorded file in timed segments (speech → recordings,
  transcription of a call from its recording after hangup): ``transcribe(wav_path) -> (engine, segments)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class PortUnavailable(LookupError):
    """No installed plugin provides the port (or its provider is not configured)."""


@dataclass(frozen=True, eq=False)
class Port(Generic[T]):
    """A named capability contract; ``T`` is the type of what a provider's factory returns."""

    name: str
    summary: str

    def __repr__(self) -> str:
        return f"Port({self.name})"


#: ``(text, caller_hint) -> suggestion dict``; the hint is the place of the caller's latest case.
SuggestFn = Callable[[str, dict[str, Any] | None], dict[str, Any]]
SUGGESTER: Port[SuggestFn] = Port("suggester", "matter, place and owning unit for a citizen's text")

#: ``(wav_path, phrases) -> recognised text`` (empty when nothing matched).
AnswerRecogniser = Callable[[Path, Sequence[str]], str]
ANSWER_RECOGNISER: Port[AnswerRecogniser] = Port(
    "answer_recogniser", "short spoken answers recognised against a phrase list (voice return visit)"
)


@dataclass(frozen=True)
class TranscribedSegment:
    """One timed piece of a file transcript (seconds from the start of the file)."""

    start_s: float
    end_s: float
    text: str
    confidence: float | None = None


#: ``(wav_path) -> (engine name, segments)``: the whole text of a recorded file.
FileTranscriber = Callable[[Path], tuple[str, list[TranscribedSegment]]]
FILE_TRANSCRIBER: Port[FileTranscriber] = Port(
    "file_transcriber", "the whole text of a recorded audio file in timed segments (recordings → speech)"
)
