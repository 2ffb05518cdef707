"""Robustness set (稳健性测试): all 16 real Mandarin clips, 8 kHz and 16 kHz, real Whisper model.

The five referenced clips (``manifest.tsv``) and the eleven unreferenced ones
(``unreferenced/manifest.tsv``: news, conversation, digits, a 25 s talk) must all give sane
text on the file path (``callcenter transcribe``) and on the streaming path (20 ms frames through
the VAD segmenter, as a call is): no loop (no char / n-gram run of more than three repeats,
:func:`~callcenter.plugins.speech.text.has_loop`), no U+FFFD, a length plausible for the
duration, and the same text when the same audio is decoded again.

Each clip is decoded once per rate and path (module-scoped caches); the second-run identity is
checked on every clip at 8 kHz (file and streaming paths) and on four hard clips at 16 kHz.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import pytest

from callcenter.plugins.speech.audio import read_audio, read_audio_pcm16
from callcenter.plugins.speech.engine import FileTranscript, Result
from callcenter.plugins.speech.text import cer, has_loop, scoring_form
from callcenter.plugins.speech.whisper_engine import WhisperEngine, WhisperOptions
from tests.plugins.speech.conftest import SPEECH

pytestmark = [pytest.mark.speech, pytest.mark.slow]

UNREFERENCED = SPEECH / "unreferenced"


def _clips() -> dict[str, float]:
    """Clip path relative to SPEECH/<rate>-style folders → duration (s), all 16 clips."""
    out: dict[str, float] = {}
    for folder, manifest in (("", SPEECH / "manifest.tsv"), ("unreferenced/", UNREFERENCED / "manifest.tsv")):
        with open(manifest, encoding="utf-8") as fh:
            for row in csv.DictReader(fh, delimiter="\t"):
                out[folder + row["file"]] = float(row["duration_s"])
    return out


CLIPS = _clips()
RATES = ("8k", "16k")


def clip_path(clip: str, rate: str) -> Path:
    folder, _, name = clip.rpartition("/")
    return (SPEECH / folder / rate / name) if folder else (SPEECH / rate / name)


def _stream(engine: WhisperEngine, path: Path) -> str:
    pcm, rate = read_audio_pcm16(path)
    session = engine.open_session(rate)
    finals = []
    for i in range(0, len(pcm), 2 * rate // 50):  # 20 ms frames, as AudioSocket delivers them
        finals.extend(session.accept(pcm[i : i + 2 * rate // 50]))
    finals.extend(session.finish())
    return "".join(r.text for r in finals)


@pytest.fixture(scope="module")
def file_results(whisper_engine: WhisperEngine) -> dict[tuple[str, str], FileTranscript]:
    return {(c, r): whisper_engine.transcribe_file(clip_path(c, r)) for r in RATES for c in CLIPS}


@pytest.fixture(scope="module")
def stream_results(whisper_engine: WhisperEngine) -> dict[str, str]:
    return {c: _stream(whisper_engine, clip_path(c, "8k")) for c in CLIPS}


def test_the_set_is_complete() -> None:
    assert len(CLIPS) == 16
    for clip in CLIPS:
        for rate in RATES:
            assert clip_path(clip, rate).is_file(), clip_path(clip, rate)


def assert_sane(text: str, duration_s: float, where: str) -> None:
    assert "\ufffd" not in text, (where, text)
    assert not has_loop(text), (where, text)
    chars = len(scoring_form(text))
    assert chars >= 1, (where, "no text for a clip with speech")
    # Mandarin is read at 3–6 characters a second; 8/s + 4 is far above any real speech.
    assert chars <= 8 * duration_s + 4, (where, chars, duration_s, text)


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("clip", sorted(CLIPS))
def test_file_path_is_sane(file_results: dict[tuple[str, str], FileTranscript], clip: str, rate: str) -> None:
    result = file_results[(clip, rate)]
    assert result.duration_s == pytest.approx(CLIPS[clip], abs=0.05)
    assert_sane(result.text, result.duration_s, f"{clip}@{rate}")
    for utt in result.utterances:
        assert 0 <= utt.start_s < utt.end_s <= result.duration_s + 0.05


@pytest.mark.parametrize("clip", sorted(CLIPS))
def test_streaming_path_is_sane(stream_results: dict[str, str], clip: str) -> None:
    assert_sane(stream_results[clip], CLIPS[clip], f"{clip}@8k stream")


#: Second-run clips at 16 kHz (every clip is re-run at 8 kHz, the telephone rate): the one that
#: gave a different text on each run with the old temperature fallback, the longest, and two
#: hard ones (a near-silent 6 s clip, a 13.6 s monologue).
SECOND_RUN_16K = (
    "unreferenced/paddlespeech_speechx_test.wav",
    "unreferenced/funasr_long.wav",
    "unreferenced/rapidasr_1657082555863994221829340016640.wav",
    "unreferenced/wenet_ios_test.wav",
)


@pytest.mark.parametrize("rate", RATES)
def test_file_path_twice_gives_the_same_text(
    whisper_engine: WhisperEngine, file_results: dict[tuple[str, str], FileTranscript], rate: str
) -> None:
    differ = {}
    for clip in CLIPS if rate == "8k" else SECOND_RUN_16K:
        again = whisper_engine.transcribe_file(clip_path(clip, rate)).text
        if again != file_results[(clip, rate)].text:
            differ[clip] = (file_results[(clip, rate)].text, again)
    assert not differ


def test_streaming_path_twice_gives_the_same_text(
    whisper_engine: WhisperEngine, stream_results: dict[str, str]
) -> None:
    differ = {}
    for clip in CLIPS:
        again = _stream(whisper_engine, clip_path(clip, "8k"))
        if again != stream_results[clip]:
            differ[clip] = (stream_results[clip], again)
    assert not differ


def test_referenced_clips_stay_accurate_on_both_paths(
    file_results: dict[tuple[str, str], FileTranscript],
    stream_results: dict[str, str],
    manifest: dict[str, str],
) -> None:
    for name, reference in manifest.items():
        for rate in RATES:
            assert cer(reference, file_results[(name, rate)].text) <= 0.35, (name, rate)
        assert cer(reference, stream_results[name]) <= 0.35, (name, "stream")


def test_a_token_limit_inside_a_character_gives_no_replacement_character(
    whisper_engine: WhisperEngine,
) -> None:
    """Cut the decode after 2..7 tokens: "广州市房地产…" starts with 广 = two byte-level tokens, so
    faster-whisper's own segment text ends in half a character (U+FFFD) for some cut; ours,
    built from the joined token bytes, never does."""
    samples, rate = read_audio(SPEECH / "16k" / "wenet_aishell-BAC009S0724W0121.wav")
    seconds = samples.size / rate
    cut_inside = []
    for cap in range(2, 8):
        engine = whisper_engine.with_options(WhisperOptions(min_new_tokens=cap, max_new_tokens_cap=cap))
        segments, _ = engine.model.transcribe(samples, **engine.options.decode_kwargs(seconds))
        if "\ufffd" in "".join(s.text for s in segments):
            cut_inside.append(cap)
        text, _logprobs, _how = engine.decode_text(samples)
        assert "\ufffd" not in text, (cap, text)
        assert len(text) <= cap, (cap, text)  # no more characters than tokens
    assert cut_inside, "no token limit fell inside a character: this test would prove nothing"


# --- the speech service's final path (batched, short windows) -------------------------------------


@dataclass
class ServiceFinals:
    clips: list[str]  # the clip of each utterance
    alone: list[Result | None]
    batched: list[Result | None]


class _NoSink:
    async def start(self, call: object) -> None: ...


@pytest.fixture(scope="module")
def service_finals() -> ServiceFinals:
    """Every 8 kHz clip cut by the service's VAD, each utterance decoded by the service's batch
    decode twice: alone, and in batches of four utterances of different clips (windows of several
    sizes in one batch), one CTranslate2 thread per decode as in the service."""
    from callcenter.plugins.speech.audiosocket.session import FinalJob
    from callcenter.plugins.speech.models import ensure_whisper_base
    from callcenter.plugins.speech.service import ServiceOptions, SpeechService
    from callcenter.plugins.speech.twopass import TwoPassConfig
    from callcenter.plugins.speech.vad import UtteranceSegmenter
    from callcenter.plugins.speech.whisper_engine import get_whisper_engine

    engine = get_whisper_engine(ensure_whisper_base(), cpu_threads=1, num_workers=2)
    options = ServiceOptions(port=0, twopass=TwoPassConfig("none", "whisper"), workers=2)
    service = SpeechService(options, whisper=engine, sink=_NoSink())
    jobs: list[tuple[str, FinalJob]] = []
    for clip in sorted(CLIPS):
        pcm, rate = read_audio_pcm16(clip_path(clip, "8k"))
        seg = UtteranceSegmenter(rate)
        recognizer = service.make_recognizer(rate)
        for utt in seg.feed(pcm + bytes(rate * 4)) + seg.flush():
            jobs.append((clip, FinalJob(utt, recognizer)))
    alone = [service.decode_finals([job], False)[0] for _c, job in jobs]
    # interleave the clips so that every batch mixes calls (and encoder windows)
    order = sorted(range(len(jobs)), key=lambda i: (i % 4, i))
    batched: dict[int, Result | None] = {}
    for k in range(0, len(order), 4):
        part = order[k : k + 4]
        for i, result in zip(part, service.decode_finals([jobs[i][1] for i in part], False), strict=True):
            batched[i] = result
    service.partial_pool.shutdown()
    service.final_pool.shutdown()
    return ServiceFinals([c for c, _j in jobs], alone, [batched[i] for i in range(len(jobs))])


def test_service_finals_are_sane(service_finals: ServiceFinals) -> None:
    texts: dict[str, str] = {}
    for clip, result in zip(service_finals.clips, service_finals.alone, strict=True):
        texts[clip] = texts.get(clip, "") + (result.text if result else "")
    assert set(texts) == set(CLIPS)
    for clip, text in texts.items():
        assert_sane(text, CLIPS[clip], f"{clip}@8k service final")


def test_service_finals_do_not_depend_on_the_load(service_finals: ServiceFinals) -> None:
    """Alone or batched with other calls' utterances (of other window sizes): same text."""
    differ = [
        (clip, a and a.text, b and b.text)
        for clip, a, b in zip(service_finals.clips, service_finals.alone, service_finals.batched, strict=True)
        if (a and a.text) != (b and b.text)
    ]
    assert not differ
