"""Model registry, install and verification."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from callcenter.plugins.speech.engine import ModelMissingError
from callcenter.plugins.speech.models import (
    VOSK_CN_LIST,
    WHISPER_BASE_SIZE,
    FileEntry,
    ModelVerifyError,
    ensure_whisper_base,
    install_verified,
    load_file_list,
    parse_file_list,
    resolve_model_path,
    verify_tree,
)
from tests.conftest import SHARED_DATA


def test_shipped_vosk_cn_list_parses() -> None:
    entries = load_file_list()
    assert len(entries) == 14
    assert {e.path for e in entries} >= {"am/final.mdl", "graph/HCLr.fst", "graph/Gr.fst", "conf/model.conf"}
    assert next(e for e in entries if e.path == "am/final.mdl").size == 15901896
    # the copy in the project is the shared reference list, unchanged
    assert (
        VOSK_CN_LIST.read_bytes() == (SHARED_DATA / "models" / "vosk-model-small-cn-0.22.files").read_bytes()
    )


@pytest.mark.parametrize(
    "bad",
    [
        "nothing",
        "abc 12 file",
        "0" * 64 + " x12 file",
        "0" * 64 + " 12 ../etc/passwd",
        "0" * 64 + " 12 /abs",
        "",
    ],
)
def test_file_list_refuses_bad_lines(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_file_list(bad)


def _synthetic_model(root: Path) -> list[FileEntry]:
    files = {"README": b"tiny model\n", "am/final.mdl": b"\x00\x01" * 500, "conf/model.conf": b"--beam=10\n"}
    lines = []
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
        lines.append(f"{hashlib.sha256(data).hexdigest()}  {len(data)}  {rel}")
    (root.parent / "list.files").write_text("\n".join(lines) + "\n")
    return parse_file_list((root.parent / "list.files").read_text())


def test_install_from_folder_and_zip(tmp_path: Path) -> None:
    src = tmp_path / "src" / "tiny-model"
    entries = _synthetic_model(src)
    (src / "extra.txt").write_text("not in the list")
    target = install_verified(src.parent, tmp_path / "models" / "tiny", entries)  # one level above works
    assert verify_tree(target, entries) == []
    assert not (target / "extra.txt").exists()
    archive = tmp_path / "tiny.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for e in entries:
            zf.write(src / e.path, f"tiny-model/{e.path}")
    target2 = install_verified(archive, tmp_path / "models" / "tiny2", entries)
    assert verify_tree(target2, entries) == []
    # installing again over a verified copy is a no-op
    assert install_verified(archive, target2, entries) == target2


def test_corrupted_model_is_refused_and_nothing_installed(tmp_path: Path) -> None:
    src = tmp_path / "src"
    entries = _synthetic_model(src)
    data = bytearray((src / "am/final.mdl").read_bytes())
    data[10] ^= 0xFF  # same size, different content
    (src / "am/final.mdl").write_bytes(bytes(data))
    target = tmp_path / "models" / "tiny"
    with pytest.raises(ModelVerifyError, match=r"am/final\.mdl: sha256"):
        install_verified(src, target, entries)
    assert not target.exists()
    assert [p.name for p in target.parent.iterdir()] == []  # staging cleaned up
    (src / "conf/model.conf").unlink()
    with pytest.raises(ModelVerifyError, match=r"model\.conf: missing"):
        install_verified(src, target, entries)


def test_zip_slip_and_non_model_sources_refused(tmp_path: Path) -> None:
    entries = _synthetic_model(tmp_path / "src")
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../outside.txt", "x")
    with pytest.raises(ModelVerifyError, match="outside the target"):
        install_verified(evil, tmp_path / "m", entries)
    not_zip = tmp_path / "model.bin"
    not_zip.write_bytes(b"garbage")
    with pytest.raises(ModelVerifyError, match="neither a model folder nor a zip"):
        install_verified(not_zip, tmp_path / "m", entries)
    with pytest.raises(ModelVerifyError, match="no such file"):
        install_verified(tmp_path / "nope", tmp_path / "m", entries)


def test_missing_model_names_the_install_command(tmp_path: Path) -> None:
    with pytest.raises(ModelMissingError, match="callcenter models install vosk-small-cn --from PATH_OR_URL"):
        resolve_model_path("vosk-small-cn", tmp_path)


@pytest.mark.speech
def test_whisper_base_joined_once_and_verified(tmp_path: Path) -> None:
    folder = ensure_whisper_base(tmp_path)
    model = folder / "model.bin"
    assert model.stat().st_size == WHISPER_BASE_SIZE
    assert {"config.json", "tokenizer.json", "vocabulary.txt"} <= {p.name for p in folder.iterdir()}
    mtime = model.stat().st_mtime_ns
    assert ensure_whisper_base(tmp_path) == folder
    assert model.stat().st_mtime_ns == mtime  # reused, not joined again
    with open(model, "r+b") as fh:  # damage it: the next call rebuilds it from the packages
        fh.write(b"\x00" * 16)
    assert ensure_whisper_base(tmp_path) == folder


def test_cli_models_list_and_install_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from callcenter.cli import app
    from callcenter.config import get_settings

    monkeypatch.setenv("CALLCENTER_SPEECH__MODELS_DIR", str(tmp_path))
    get_settings.cache_clear()
    runner = CliRunner()
    listed = runner.invoke(app, ["models", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert '"name": "vosk-small-cn"' in listed.output and '"installed": false' in listed.output
    src = tmp_path / "not-the-model"
    _synthetic_model(src)
    res = runner.invoke(app, ["models", "install", "vosk-small-cn", "--from", str(src)])
    assert res.exit_code == 1
    assert "does not look like the model" in res.output or "does not verify" in res.output
    assert not (tmp_path / "vosk-model-small-cn-0.22").exists()
    res = runner.invoke(app, ["transcribe", "--engine", "vosk", "--json", str(tmp_path / "x.wav")])
    assert res.exit_code == 2
    assert "callcenter models install vosk-small-cn" in res.output
