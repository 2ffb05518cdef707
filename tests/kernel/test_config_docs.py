"""docs/configuration.md is generated from Settings: current, complete, naming env vars that work."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from pydantic import BaseModel, Field

from callcenter.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_config_docs", ROOT / "scripts" / "gen_config_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("gen_config_docs", module)
    spec.loader.exec_module(module)
    return module


gen = _generator()


def _leaves(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    out = []
    for name, info in model.model_fields.items():
        ann = info.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out += _leaves(ann, (*prefix, name))
        else:
            out.append(((*prefix, name), info))
    return out


def test_configuration_doc_is_current() -> None:
    text = gen.DOC.read_text(encoding="utf-8")
    assert gen.BEGIN in text and gen.END in text
    assert gen.update(text) == text, "docs/configuration.md is out of date: run scripts/gen_config_docs.py"


def test_every_setting_has_a_row_with_its_description() -> None:
    text = gen.DOC.read_text(encoding="utf-8")
    leaves = _leaves(Settings)
    assert len(leaves) > 40
    for path, info in leaves:
        env = "CALLCENTER_" + "__".join(p.upper() for p in path)
        row = next((line for line in text.splitlines() if line.startswith(f"| `{'.'.join(path)}` |")), None)
        assert row is not None, f"no row for {'.'.join(path)}"
        assert f"`{env}`" in row
        assert info.description and gen._cell(info.description) in row


def test_new_setting_without_row_makes_the_doc_stale(monkeypatch: pytest.MonkeyPatch) -> None:
    class Extended(Settings):
        brand_new_setting: int = Field(default=7, description="A setting added without regenerating.")

    text = gen.DOC.read_text(encoding="utf-8")
    monkeypatch.setattr(gen, "Settings", Extended)
    updated = gen.update(text)
    assert updated != text
    assert "| `brand_new_setting` | `CALLCENTER_BRAND_NEW_SETTING` | int | `7` |" in updated
    assert gen.main(["--check"]) == 1


def test_setting_without_description_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    class Undocumented(Settings):
        silent: int = 3

    monkeypatch.setattr(gen, "Settings", Undocumented)
    with pytest.raises(gen.UndocumentedSetting, match="silent"):
        gen.render()


def _bounded_to_one(info: Any) -> bool:
    return any(getattr(m, "le", None) is not None and m.le <= 1 for m in info.metadata)


def test_documented_environment_names_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each scalar setting set through the documented variable reaches Settings."""
    checked = 0
    want: object
    for path, info in _leaves(Settings):
        env = "CALLCENTER_" + "__".join(p.upper() for p in path)
        if info.annotation is int:
            raw, want = "4242", 4242
        elif info.annotation is float:
            # inside every float setting's bounds (probabilities and thresholds are 0..1)
            raw, want = ("0.425", 0.425) if _bounded_to_one(info) else ("42.5", 42.5)
        elif info.annotation is str and path[-1] not in ("window_start", "window_end"):
            raw, want = "doc-check-value-123", "doc-check-value-123"
        elif info.annotation is Path:
            raw, want = "/tmp/doc-check", Path("/tmp/doc-check")
        else:
            continue
        monkeypatch.setenv(env, raw)
        value: Any = Settings()
        for part in path:
            value = getattr(value, part)
        assert value == want, env
        monkeypatch.delenv(env)
        checked += 1
    assert checked > 30
