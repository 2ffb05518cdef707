"""WebRTC VAD segmentation and the session closing rule."""

from __future__ import annotations

import numpy as np
import pytest

from callcenter.plugins.speech.audio import float_to_pcm16, read_audio_pcm16
from callcenter.plugins.speech.audiosocket.session import SessionPolicy, close_reason
from callcenter.plugins.speech.engine import AudioFormatError
from callcenter.plugins.speech.vad import Utterance, UtteranceSegmenter, VadConfig
from tests.plugins.speech.conftest import SPEECH


def _feed_in_frames(seg: UtteranceSegmenter, pcm: bytes, frame: int = 320) -> list[Utterance]:
    out: list[Utterance] = []
    for i in range(0, len(pcm), frame):
        out.extend(seg.feed(pcm[i : i + frame]))
    return out


@pytest.mark.parametrize("rate", ["8k", "16k"])
def test_clip_with_trailing_silence_is_one_utterance(rate: str) -> None:
    pcm, sr = read_audio_pcm16(SPEECH / rate / "paddlespeech_zh.wav")
    silence = bytes(int(sr * 1.0) * 2)
    seg = UtteranceSegmenter(sr)
    utts = _feed_in_frames(seg, silence + pcm + silence, frame=sr // 50 * 2)
    assert len(utts) >= 1
    first, last = utts[0], utts[-1]
    assert 0.3 <= first.start_s <= 1.5  # speech starts after the leading second of silence
    assert last.end_s <= 1.0 + len(pcm) / 2 / sr + 0.6
    assert seg.speech_s >= 2.0
    assert seg.trailing_silence_s >= 0.5 and not seg.in_speech
    assert seg.flush() == []


def test_silence_and_noise_give_no_utterance() -> None:
    seg = UtteranceSegmenter(8000)
    assert _feed_in_frames(seg, bytes(8000 * 2 * 3)) == []
    rng = np.random.default_rng(0)
    quiet_noise = float_to_pcm16(rng.normal(0, 0.001, 8000 * 2))
    assert _feed_in_frames(seg, quiet_noise) == []
    assert seg.speech_s == 0.0 and seg.flush() == []


def test_flush_returns_the_utterance_in_progress() -> None:
    pcm, sr = read_audio_pcm16(SPEECH / "8k" / "funasr_short.wav")
    seg = UtteranceSegmenter(sr)
    half = pcm[: len(pcm) // 2 // 2 * 2]
    done = _feed_in_frames(seg, half)
    rest = seg.flush()
    assert len(done) + len(rest) >= 1
    assert rest and rest[0].truncated


def test_max_utterance_forces_a_cut() -> None:
    pcm, sr = read_audio_pcm16(SPEECH / "8k" / "paddlespeech_features_test.wav")
    seg = UtteranceSegmenter(sr, VadConfig(max_utterance_s=2.0, end_silence_s=2.0))
    utts = _feed_in_frames(seg, pcm) + seg.flush()
    assert len(utts) >= 3
    assert all(u.end_s - u.start_s <= 2.0 + 1e-6 for u in utts)


def test_bad_input_is_refused() -> None:
    with pytest.raises(AudioFormatError, match="unsupported sample rate 44100"):
        UtteranceSegmenter(44100)
    with pytest.raises(AudioFormatError, match="even number"):
        UtteranceSegmenter(8000).feed(b"\x00\x01\x02")
    with pytest.raises(ValueError):
        VadConfig(aggressiveness=7)


def test_close_reason() -> None:
    p = SessionPolicy(end_silence_s=1.0, min_speech_s=0.5, no_speech_timeout_s=8.0, max_duration_s=120.0)
    assert close_reason(p, "intake", speech_s=2.0, trailing_silence_s=0.4, total_s=5) is None
    assert close_reason(p, "intake", speech_s=2.0, trailing_silence_s=1.0, total_s=5) == "caller_done"
    assert close_reason(p, "intake", speech_s=0.2, trailing_silence_s=3.0, total_s=5) is None  # a cough
    assert close_reason(p, "intake", speech_s=0.2, trailing_silence_s=8.0, total_s=8.0) == "no_speech"
    assert close_reason(p, "intake", speech_s=119, trailing_silence_s=0.0, total_s=120.0) == "max_duration"
    assert close_reason(p, "spy", speech_s=2.0, trailing_silence_s=30.0, total_s=500) is None


def test_forced_cut_goes_in_a_pause_and_loses_no_audio() -> None:
    a, sr = read_audio_pcm16(SPEECH / "8k" / "paddlespeech_zh.wav")  # 5.0 s
    b, _ = read_audio_pcm16(SPEECH / "8k" / "paddlespeech_features_test.wav")  # 9.4 s
    gap = bytes(int(sr * 0.3) * 2)  # shorter than end_silence_s: no natural end here
    seg = UtteranceSegmenter(sr, VadConfig(max_utterance_s=8.0, end_silence_s=2.0))
    utts = _feed_in_frames(seg, a + gap + b) + seg.flush()
    assert len(utts) >= 2
    first, second = utts[0], utts[1]
    assert first.truncated
    # The hard limit would cut at 8 s, inside clip b; the pause-aware cut lands in the gap
    # (the end of clip a, its trailing silence and the 0.3 s of silence added).
    assert 4.6 <= first.end_s <= 5.6, first.end_s
    assert second.start_s == pytest.approx(first.end_s)  # the rest starts the next utterance
    assert sum(len(u.pcm) for u in utts) >= len(a + gap + b) - int(sr * 1.0) * 2
