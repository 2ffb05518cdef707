"""Vosk code path on the real Korean model (the Mandarin model runs the same code in production)."""

from __future__ import annotations

from pathlib import Path

import pytest

from callcenter.plugins.speech.audio import read_audio_pcm16
from callcenter.plugins.speech.engine import AudioFormatError, Result
from callcenter.plugins.speech.vosk_engine import VoskEndpoint, VoskEngine, endpoint_overlay

pytestmark = pytest.mark.speech


def _stream(
    engine: VoskEngine, path: Path, grammar: list[str] | None = None, frame_ms: int = 20
) -> list[Result]:
    pcm, rate = read_audio_pcm16(path)
    session = engine.open_session(rate, grammar=grammar)
    step = rate * frame_ms // 1000 * 2
    results: list[Result] = []
    for i in range(0, len(pcm), step):
        results.extend(session.accept(pcm[i : i + step]))
    results.extend(session.finish())
    return results


@pytest.mark.parametrize("rate", ["8k", "16k"])
def test_streaming_partials_then_final(vosk_ko: VoskEngine, korean_audio: dict[str, Path], rate: str) -> None:
    results = _stream(vosk_ko, korean_audio[f"sentence_{rate}"])
    partials = [r for r in results if not r.final]
    finals = [r for r in results if r.final]
    assert len(partials) >= 2, "partials must arrive while the audio streams"
    assert partials[0].end_s < finals[-1].end_s
    assert finals and all(r.text for r in finals)
    duration = 3.5  # the espeak sentence is about 3 s
    for r in finals:
        assert r.words and r.engine == "vosk"
        starts = [w.start_s for w in r.words]
        assert starts == sorted(starts)
        assert all(0 <= w.start_s <= w.end_s <= duration + 1 for w in r.words)
        assert r.confidence is not None and 0 < r.confidence <= 1


@pytest.mark.parametrize("rate", ["8k", "16k"])
def test_grammar_mode_short_answers(vosk_ko: VoskEngine, korean_audio: dict[str, Path], rate: str) -> None:
    answers = ["네", "아니요"]
    for key, expected in (("yes", "네"), ("no", "아니요")):
        finals = [r for r in _stream(vosk_ko, korean_audio[f"{key}_{rate}"], grammar=answers) if r.final]
        assert [r.text for r in finals] == [expected]


def test_8k_is_resampled_by_the_recognizer(vosk_ko: VoskEngine, korean_audio: dict[str, Path]) -> None:
    text8 = vosk_ko.transcribe_file(korean_audio["sentence_8k"]).text
    text16 = vosk_ko.transcribe_file(korean_audio["sentence_16k"]).text
    assert text8 and text16
    shared = set(text8.split()) & set(text16.split())
    assert shared, (text8, text16)  # same words recognised at both rates


def test_endpoint_settings_apply(vosk_ko: VoskEngine, korean_audio: dict[str, Path], tmp_path: Path) -> None:
    endpoint = VoskEndpoint(rule2_min_trailing_silence=0.3, rule3_min_trailing_silence=0.6)
    overlay = endpoint_overlay(vosk_ko.model_path, endpoint, root=tmp_path)
    conf = (overlay / "conf" / "model.conf").read_text()
    assert "--endpoint.rule2.min-trailing-silence=0.3" in conf and "--beam=" in conf
    assert conf.count("--endpoint.rule2.min-trailing-silence") == 1
    assert endpoint_overlay(vosk_ko.model_path, endpoint, root=tmp_path) == overlay  # reused
    # two answers separated by 1.5 s of silence come out as two finals with the short endpoint
    yes, rate = read_audio_pcm16(korean_audio["yes_16k"])
    no, _ = read_audio_pcm16(korean_audio["no_16k"])
    pcm = yes + bytes(int(rate * 1.5) * 2) + no + bytes(int(rate * 1.0) * 2)
    engine = VoskEngine(overlay)
    session = engine.open_session(rate, grammar=["네", "아니요"])
    finals: list[Result] = []
    for i in range(0, len(pcm), 640):
        finals.extend(r for r in session.accept(pcm[i : i + 640]) if r.final)
    assert [r.text for r in finals] == ["네", "아니요"]
    assert session.finish() == []


def test_bad_input(vosk_ko: VoskEngine, tmp_path: Path) -> None:
    with pytest.raises(AudioFormatError, match="unsupported sample rate"):
        vosk_ko.open_session(44100)
    session = vosk_ko.open_session(8000)
    with pytest.raises(AudioFormatError):
        session.accept(b"\x00\x01\x02")
    assert session.accept(bytes(8000 * 2 * 2)) == [] and session.finish() == []  # silence: nothing
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("this is not a wav file")
    with pytest.raises(AudioFormatError, match="not a readable audio file"):
        vosk_ko.transcribe_file(not_audio)
