"""Manifest of the speech plugin (语音识别): the AudioSocket speech service, file transcription and the
speech models."""

from __future__ import annotations

from typing import TYPE_CHECKING

from callcenter.ports import ANSWER_RECOGNISER, FILE_TRANSCRIBER, AnswerRecogniser, FileTranscriber
from callcenter.registry import Plugin, ServiceSpec

if TYPE_CHECKING:
    import typer

    from callcenter.config import Settings


def _cli(app: typer.Typer) -> None:
    from callcenter.plugins.speech.cli import register

    register(app)


def _answers(settings: Settings) -> AnswerRecogniser:
    from callcenter.plugins.speech.answers import answer_recogniser

    return answer_recogniser(settings)


def _file_transcriber(settings: Settings) -> FileTranscriber:
    from callcenter.plugins.speech.answers import file_transcriber

    return file_transcriber(settings)


plugin = Plugin(
    name="speech",
    summary="streaming speech recognition (Vosk + faster-whisper) behind Asterisk AudioSocket",
    cli=_cli,
    services=(ServiceSpec("speech-service", order=40),),
    provides={ANSWER_RECOGNISER: _answers, FILE_TRANSCRIBER: _file_transcriber},
)
