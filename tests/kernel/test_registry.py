"""The plugin registry: every capability is found through its entry point, and the CLI, the API app,
the worker and ``callcenter up`` are built from the manifests (no registry of capabilities elsewhere)."""

from __future__ import annotations

from importlib.metadata import EntryPoint
from typing import Any

import pytest
from typer.testing import CliRunner

from callcenter import registry
from callcenter.api.app import create_app
from callcenter.cli import app as cli_app
from callcenter.cli_core import available_services
from callcenter.config import Settings
from callcenter.ports import SUGGESTER
from callcenter.registry import Plugin, PluginError
from callcenter.worker.runner import KERNEL_LOOPS, all_loops

EXPECTED = {
    "cases",
    "telephony",
    "speech",
    "classifier",
    "callbacks",
    "console",
    "demo",
    "webform",
    "citydispatch",
    "grid",
}


def test_every_capability_is_an_installed_plugin() -> None:
    assert set(registry.plugin_names()) == EXPECTED
    assert all(isinstance(p, Plugin) and p.summary for p in registry.plugins())


def test_cli_has_kernel_and_plugin_commands() -> None:
    out = CliRunner().invoke(cli_app, ["--help"]).output
    for command in (
        "db",
        "seed",
        "user",
        "serve",
        "worker",
        "up",
        "demo",
        "sweep-overdue",
        "asterisk",
        "agi",
        "ami-bridge",
        "speech-service",
        "transcribe",
        "train",
        "suggest",
        "callbacks",
    ):
        assert f" {command} " in out, command


def test_worker_runs_kernel_and_plugin_loops() -> None:
    assert set(all_loops()) == {*KERNEL_LOOPS, "sweep", "callbacks", "whole_call", "citydispatch"}


def test_up_starts_every_declared_service_in_order() -> None:
    assert [s.name for s in available_services()] == [
        "serve",
        "agi",
        "ami-bridge",
        "speech-service",
        "worker",
    ]
    assert [s.name for s in available_services(["worker", "agi"])] == ["agi", "worker"]


def test_api_app_mounts_plugin_routers(sqlite_url: str) -> None:
    app = create_app(Settings(mode="test", database_url=sqlite_url), start_relay=False)
    paths = set(app.openapi()["paths"])
    assert {"/api/auth/token", "/api/cases", "/api/calls", "/api/suggest", "/api/console/wallboard"} <= paths
    assert "/console" in {getattr(r, "path", "") for r in app.routes}  # the console's static mount


def test_the_classifier_provides_the_suggester_port() -> None:
    assert [name for name, _ in registry.providers(SUGGESTER)] == ["classifier"]


def _fake_entry_points(monkeypatch: pytest.MonkeyPatch, objs: dict[str, Any]) -> None:
    import sys
    import types

    module = types.ModuleType("cc_fake_plugins")
    for name, obj in objs.items():
        setattr(module, name, obj)
    monkeypatch.setitem(sys.modules, "cc_fake_plugins", module)
    eps = [EntryPoint(name, f"cc_fake_plugins:{name}", registry.ENTRY_POINT_GROUP) for name in objs]
    monkeypatch.setattr(
        registry, "entry_points", lambda group: eps if group == registry.ENTRY_POINT_GROUP else []
    )
    registry.plugins.cache_clear()


@pytest.fixture
def _restore_registry() -> Any:
    yield
    registry.plugins.cache_clear()


@pytest.mark.usefixtures("_restore_registry")
def test_duplicate_names_and_loops_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    loop = {"tick": lambda s: None}
    _fake_entry_points(monkeypatch, {"a": Plugin("x", "one"), "b": Plugin("x", "two")})
    with pytest.raises(PluginError, match="several plugins are named x"):
        registry.plugins()
    _fake_entry_points(
        monkeypatch, {"a": Plugin("a", "one", loops=loop), "b": Plugin("b", "two", loops=loop)}
    )
    with pytest.raises(PluginError, match="worker loop tick"):
        registry.plugins()
    _fake_entry_points(monkeypatch, {"a": object()})
    with pytest.raises(PluginError, match=r"is not a callcenter\.registry\.Plugin"):
        registry.plugins()


@pytest.mark.usefixtures("_restore_registry")
def test_a_port_nobody_provides_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    from callcenter.ports import PortUnavailable

    _fake_entry_points(monkeypatch, {"a": Plugin("a", "one")})
    with pytest.raises(PortUnavailable, match="no installed plugin provides the suggester port"):
        registry.provide(SUGGESTER, Settings(mode="test"))
