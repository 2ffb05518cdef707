"""Manifest of the demo plugin (演示环境): ``callcenter demo``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from callcenter.registry import Plugin

if TYPE_CHECKING:
    import typer


def _cli(app: typer.Typer) -> None:
    from callcenter.plugins.demo.cli import demo

    app.command("demo")(demo)


plugin = Plugin(
    name="demo",
    summary="the whole stack on one machine with simulated callers (uses the other plugins' commands)",
    cli=_cli,
)
