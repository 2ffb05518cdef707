"""faster-whisper (Whisper base, int8) on the five shared Mandarin clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from callcenter.plugins.speech.audio import float_to_pcm16, read_audio_pcm16
from callcenter.plugins.speech.engine import AudioFormatError
from callcenter.plugins.speech.text import cer, corpus_cer
from callcenter.plugins.speech.twopass import TwoPassConfig, TwoPassRecognizer
from callcenter.plugins.speech.vosk_engine import VoskEngine
from callcenter.plugins.speech.whisper_engine import WhisperEngine, catalogue_hotwords
from tests.plugins.speech.conftest import SPEECH

pytestmark = [pytest.mark.speech, pytest.mark.slow]

#: Measured 9.6 % (8 kHz) and 7.2 % (16 kHz) on the file path (issue 14 decode); bound with margin.
CER_BOUND = 0.25


@pytest.mark.parametrize("rate", ["8k", "16k"])
def test_cer_on_shared_clips(whisper_engine: WhisperEngine, manifest: dict[str, str], rate: str) -> None:
    pairs = []
    for name, reference in manifest.items():
        result = whisper_engine.transcribe_file(SPEECH / rate / name)
        assert result.engine == "whisper"
        assert 2.0 <= result.duration_s <= 10.0
        assert all("\u3400" <= ch <= "\u9fff" or not ch.isalpha() for ch in result.text), result.text
        pairs.append((reference, result.text))
        assert cer(reference, result.text) <= 0.5, (name, result.text)
    overall = corpus_cer(pairs)
    assert overall <= CER_BOUND, pairs


def test_streaming_session_in_20ms_frames(whisper_engine: WhisperEngine, manifest: dict[str, str]) -> None:
    pcm, rate = read_audio_pcm16(SPEECH / "8k" / "funasr_short.wav")
    session = whisper_engine.open_session(rate)
    finals = []
    for i in range(0, len(pcm), 320):
        finals.extend(session.accept(pcm[i : i + 320]))
    finals.extend(session.finish())
    assert finals and all(r.final for r in finals)
    assert cer(manifest["funasr_short.wav"], "".join(r.text for r in finals)) <= 0.25
    assert 0 <= finals[0].start_s < finals[-1].end_s <= len(pcm) / 2 / rate + 0.5


def test_silence_only_gives_empty_result(whisper_engine: WhisperEngine, tmp_path: Path) -> None:
    import soundfile as sf

    path = tmp_path / "silence.wav"
    rng = np.random.default_rng(1)
    sf.write(path, rng.normal(0, 0.0005, 8000 * 5).astype(np.float32), 8000, subtype="PCM_16")
    result = whisper_engine.transcribe_file(path)
    assert result.text == "" and result.utterances == ()
    assert result.duration_s == pytest.approx(5.0)


def test_bad_files_and_rates(whisper_engine: WhisperEngine, tmp_path: Path) -> None:
    fake = tmp_path / "fake.wav"
    fake.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really")
    with pytest.raises(AudioFormatError, match="not a readable audio file"):
        whisper_engine.transcribe_file(fake)
    with pytest.raises(AudioFormatError, match="no such file"):
        whisper_engine.transcribe_file(tmp_path / "missing.wav")
    with pytest.raises(AudioFormatError, match="unsupported sample rate"):
        whisper_engine.decode_pcm(b"\x00\x00" * 100, 11025)
    with pytest.raises(ValueError, match="grammar"):
        whisper_engine.open_session(8000, grammar=["满意"])


def test_44k_file_is_resampled(
    whisper_engine: WhisperEngine, manifest: dict[str, str], tmp_path: Path
) -> None:
    import soundfile as sf

    from callcenter.plugins.speech.audio import read_audio, resample

    samples, rate = read_audio(SPEECH / "16k" / "paddlespeech_zh.wav")
    stereo = np.stack([resample(samples, rate, 44100)] * 2, axis=1)
    path = tmp_path / "stereo44k.flac"
    sf.write(path, stereo, 44100)
    result = whisper_engine.transcribe_file(path)
    assert cer(manifest["paddlespeech_zh.wav"], result.text) <= 0.25


def test_catalogue_hotwords() -> None:
    words = catalogue_hotwords(
        ["噪声扰民", "占道经营", "一个非常非常非常长的事项名称不适合", "噪声扰民"], ["施工噪音"]
    )
    assert words == ("施工噪音", "噪声扰民", "占道经营")  # keywords first, duplicates and long names dropped
    assert len(catalogue_hotwords([f"事项{i}" for i in range(100)], limit=40)) == 40


def test_two_pass_vosk_partials_whisper_finals(
    whisper_engine: WhisperEngine, vosk_ko: VoskEngine, manifest: dict[str, str]
) -> None:
    """The two-pass code path (Korean Vosk stands in for the Mandarin partial model here)."""
    pcm, rate = read_audio_pcm16(SPEECH / "8k" / "paddlespeech_zh.wav")
    pcm += float_to_pcm16(np.zeros(rate))  # the caller stops talking
    rec = TwoPassRecognizer(rate, TwoPassConfig("vosk", "whisper"), vosk=vosk_ko, whisper=whisper_engine)
    partials, utterances = [], []
    for i in range(0, len(pcm), 320 * 5):
        out = rec.feed(pcm[i : i + 320 * 5])
        partials.extend(out.partials)
        utterances.extend(out.utterances)
        assert not out.finals
    utterances.extend(rec.finish().utterances)
    assert partials and all(not p.final and p.engine == "vosk" for p in partials)
    finals = [r for r in (rec.decode(u) for u in utterances) if r is not None]
    assert cer(manifest["paddlespeech_zh.wav"], "".join(r.text for r in finals)) <= 0.25


def test_two_pass_whisper_only(whisper_engine: WhisperEngine, manifest: dict[str, str]) -> None:
    pcm, rate = read_audio_pcm16(SPEECH / "16k" / "paddlespeech_features_test.wav")
    rec = TwoPassRecognizer(
        rate, TwoPassConfig("whisper", "whisper", whisper_partial_interval_s=2.0), whisper=whisper_engine
    )
    partials, utterances = [], []
    for i in range(0, len(pcm), 640 * 10):
        out = rec.feed(pcm[i : i + 640 * 10])
        partials.extend(out.partials)
        utterances.extend(out.utterances)
    utterances.extend(rec.finish().utterances)
    assert partials and all(not p.final and p.engine == "whisper" for p in partials)
    text = "".join(r.text for r in (rec.decode(u) for u in utterances) if r is not None)
    assert cer(manifest["paddlespeech_features_test.wav"], text) <= 0.3


def test_two_pass_config_validation(whisper_engine: WhisperEngine) -> None:
    with pytest.raises(ValueError):
        TwoPassConfig("fast", "whisper")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs a Vosk engine"):
        TwoPassRecognizer(8000, TwoPassConfig("vosk", "whisper"), whisper=whisper_engine)


@pytest.mark.parametrize("name", ["funasr_short.wav", "wenet_aishell-BAC009S0724W0121.wav"])
def test_8k_audio_reaches_whisper_as_plain_faster_whisper_gives_it(name: str) -> None:
    """Our resampler is FFmpeg's (PyAV), as faster-whisper's ``decode_audio``: the file path and the
    streaming path give Whisper the same 16 kHz samples plain faster-whisper would. With scipy's
    polyphase filter the 8 kHz clips scored 15.7 % CER instead of plain's 9.6 % (docs/benchmarks.md)."""
    from faster_whisper.audio import decode_audio

    from callcenter.plugins.speech.audio import pcm16_to_float, read_audio, resample

    path = SPEECH / "8k" / name
    plain = decode_audio(str(path), sampling_rate=16000)
    samples, rate = read_audio(path)
    assert rate == 8000
    ours = resample(samples, rate, 16000)
    assert ours.dtype == np.float32 and ours.shape == plain.shape
    assert np.array_equal(ours, plain)
    # the streaming path resamples each utterance from its 16-bit PCM the same way
    pcm, _ = read_audio_pcm16(path)
    assert np.array_equal(resample(pcm16_to_float(pcm), 8000, 16000), plain)


def test_resample_edges() -> None:
    from callcenter.plugins.speech.audio import resample

    assert resample(np.zeros(0, dtype=np.float32), 8000, 16000).size == 0
    tone = (0.5 * np.sin(np.arange(8000) / 8000 * 2 * np.pi * 440)).astype(np.float32)
    up = resample(tone, 8000, 16000)
    assert up.size == 16000 and abs(float(np.abs(up).max()) - 0.5) < 0.02  # level kept
    assert resample(tone, 8000, 44100).size == 44100
    with pytest.raises(AudioFormatError, match="invalid sample rates"):
        resample(tone, 0, 16000)
