"""The `callcenter suggest` / `callcenter train` commands, run as real subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from callcenter.db.models import SuggestionFeedback
from callcenter.db.session import session_scope
from callcenter.plugins.classifier.training import ModelInfo, current_version

pytestmark = pytest.mark.slow


def run(
    *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "callcenter.cli", *args],
        input=stdin,
        capture_output=True,
        env={**os.environ, "CALLCENTER_MODE": "test", **(env or {})},
        timeout=300,
        check=False,
    )


def test_suggest_text_json(trained: ModelInfo, models_dir: Path) -> None:
    proc = run("suggest", "东城区景山街道路灯不亮了", "--json", "--model-dir", str(models_dir))
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["matters"][0]["name"] == "路灯异常"
    assert data["area"]["street"]["code"] == "110101002"


def test_suggest_no_suggestion_exit_code(trained: ModelInfo, models_dir: Path) -> None:
    proc = run("suggest", "！！！", "--json", "--model-dir", str(models_dir))
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["no_suggestion_reason"] == "no_content"


def test_suggest_jsonl_with_bad_lines(trained: ModelInfo, models_dir: Path, tmp_path: Path) -> None:
    lines = [
        json.dumps({"id": "a", "text": "郫都区犀浦街道地铁口有小商贩摆摊"}, ensure_ascii=False).encode(),
        b'{"id": "b", "text": "\xff\xfe bad bytes"}',
        b"",
        json.dumps({"id": "c", "text": ""}).encode(),
        b"this is not json",
        json.dumps({"id": "d", "text": "hello 😀"}).encode(),
        json.dumps({"id": "e", "text": "吵" * 100_000}, ensure_ascii=False).encode(),
        json.dumps({"id": 6, "text": "公司拖欠工资不发"}, ensure_ascii=False).encode(),
    ]
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    proc = run("suggest", "--jsonl", str(path), "--model-dir", str(models_dir))
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert [o["id"] for o in out] == ["a", "b", "c", None, "d", "e", 6]
    assert [o["no_suggestion_reason"] for o in out] == [
        None, "invalid_utf8", "empty", "invalid_json", "no_chinese", "too_long", None,
    ]  # fmt: skip
    first = out[0]
    assert set(first) >= {"id", "matters", "unit", "area", "evidence", "auto_dispatch"}
    assert first["matters"][0]["name"] == "无照经营游商"
    assert first["unit"]["code"] == "S510117006"
    assert out[-1]["matters"][0]["name"] == "拖欠工资"
    # stdin works too
    proc = run("suggest", "--jsonl", "-", "--model-dir", str(models_dir), stdin=lines[0] + b"\n")
    assert json.loads(proc.stdout)["id"] == "a"


def test_suggest_without_model(tmp_path: Path) -> None:
    proc = run("suggest", "路灯坏了", "--model-dir", str(tmp_path))
    assert proc.returncode == 2
    assert b"callcenter train" in proc.stderr


def test_train_uses_feedback_from_database(sqlite_url: str, tmp_path: Path) -> None:
    with session_scope(sqlite_url) as session:
        session.add(
            SuggestionFeedback(text="马路对面的共享充电宝柜子倒了", matter_code="0100054", accepted=False)
        )
        session.add(SuggestionFeedback(text="", matter_code="0100054", accepted=True))
    models = tmp_path / "models"
    proc = run(
        "train", "--output", str(models), "--database-url", sqlite_url, "--per-matter", "6", "--quiet",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    version = current_version(models)
    assert version is not None and version in proc.stdout.decode()
    assert "feedback rows 2" in proc.stdout.decode()
    assert "citizen messages held out: category top-1" in proc.stdout.decode()
    meta = json.loads((models / version / "metadata.json").read_text(encoding="utf-8"))
    assert meta["counts"]["feedback_samples"] == 3 and meta["counts"]["feedback_skipped"] == 1
    assert meta["counts"]["citizen_train_messages"] > 1000 and meta["metrics"]["citizen_heldout"]["n"] > 100
    with session_scope(sqlite_url) as session:
        used = session.scalars(select(SuggestionFeedback.used_in_model)).all()
    assert used == [version, version]
