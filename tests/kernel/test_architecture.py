"""The floor plan stays true: the import-linter contracts in pyproject.toml cover every kernel module and
every plugin, every plugin package has a manifest registered as an entry point, and the contracts hold."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "callcenter"
PLUGINS = PACKAGE / "plugins"


def _contracts() -> dict[str, dict[str, Any]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return {c["type"]: c for c in config["tool"]["importlinter"]["contracts"]}


def _kernel_modules() -> set[str]:
    names = set()
    for path in PACKAGE.iterdir():
        if path.name in ("plugins", "__init__.py", "__pycache__", "data"):
            continue
        if path.suffix == ".py" or (path.is_dir() and (path / "__init__.py").exists()):
            names.add(f"callcenter.{path.stem}")
    return names


def _plugin_packages() -> set[str]:
    return {f"callcenter.plugins.{p.name}" for p in PLUGINS.iterdir() if (p / "__init__.py").exists()}


def test_the_kernel_contract_lists_every_kernel_module() -> None:
    forbidden = _contracts()["forbidden"]
    assert set(forbidden["source_modules"]) == _kernel_modules()
    assert forbidden["forbidden_modules"] == ["callcenter.plugins"]


def test_the_independence_contract_lists_every_plugin() -> None:
    assert set(_contracts()["independence"]["modules"]) == _plugin_packages()


def test_every_plugin_package_has_a_registered_manifest() -> None:
    registered = {ep.value.split(":")[0] for ep in entry_points(group="callcenter.plugins")}
    assert registered == {f"{name}.plugin" for name in _plugin_packages()}
    for name in _plugin_packages():
        assert (PLUGINS / name.rsplit(".", 1)[1] / "plugin.py").is_file(), name


@pytest.mark.slow
def test_the_contracts_hold() -> None:
    lint = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
