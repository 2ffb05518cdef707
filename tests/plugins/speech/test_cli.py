"""``callcenter transcribe`` and ``callcenter speech-service`` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from callcenter.cli import app
from callcenter.plugins.speech.text import cer
from tests.plugins.speech.conftest import SPEECH

pytestmark = pytest.mark.speech


def test_transcribe_json_lines(tmp_path: Path, manifest: dict[str, str]) -> None:
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("not audio at all")
    clip = SPEECH / "8k" / "funasr_short.wav"
    res = CliRunner().invoke(app, ["transcribe", "--json", str(clip), str(not_audio)])
    assert res.exit_code == 1  # one file failed, the other was still transcribed
    lines = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    good, bad = lines
    assert set(good) >= {"file", "text", "engine", "duration_s", "seconds"}
    assert good["engine"] == "whisper" and good["model"] == "whisper-base"  # auto = most accurate installed
    assert good["duration_s"] == pytest.approx(5.547, abs=0.01) and good["seconds"] > 0
    assert cer(manifest["funasr_short.wav"], good["text"]) <= 0.25
    assert bad["file"] == str(not_audio) and "not a readable audio file" in bad["error"]


def test_transcribe_with_vosk_korean_model(tmp_path: Path) -> None:
    from tests.plugins.speech.conftest import espeak

    wav = espeak("아니요", tmp_path / "no.wav", 8000)
    res = CliRunner().invoke(
        app, ["transcribe", "--engine", "vosk", "--vosk-model", "vosk-ko", "--json", str(wav)]
    )
    assert res.exit_code == 0, res.output
    (line,) = [json.loads(x) for x in res.stdout.splitlines() if x.startswith("{")]
    assert line["engine"] == "vosk" and line["model"] == "vosk-ko" and line["text"]


def test_speech_service_refuses_a_missing_final_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from callcenter.config import get_settings

    monkeypatch.setenv("CALLCENTER_SPEECH__MODELS_DIR", str(tmp_path))
    get_settings.cache_clear()
    res = CliRunner().invoke(app, ["speech-service", "--partial-engine", "none", "--final-engine", "vosk"])
    assert res.exit_code == 2
    assert "callcenter models install vosk-small-cn" in res.output
