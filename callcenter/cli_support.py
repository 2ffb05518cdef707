"""Helpers shared by the kernel's and the plugins' subcommands (one console, one settings check)."""

from __future__ import annotations

import typer
from rich.console import Console

from callcenter.config import Settings

#: Messages of the ``callcenter`` command go to stderr; stdout is left for data (``--json``).
console = Console(stderr=True)


def settings_or_exit() -> Settings:
    """The settings, or exit 2 with the reason (a bad setting is one line, not a traceback)."""
    from callcenter.config import get_settings

    try:
        return get_settings()
    except Exception as exc:  # pydantic ValidationError: print the reason, not a traceback
        console.print(f"[red]configuration error:[/red] {exc}")
        from callcenter.config import VAR_DIR

        if "production mode" in str(exc) and (VAR_DIR / "demo").is_dir():
            console.print(
                "this checkout runs the demo (var/demo exists): the demo's commands need "
                "[bold]export CALLCENTER_MODE=demo[/bold] (scripts/demo.sh sets it for itself)"
            )
        raise typer.Exit(2) from exc


def command_names(ctx: typer.Context) -> set[str]:
    """Names of the subcommands of the running ``callcenter`` app (kernel + installed plugins)."""
    root = ctx.find_root().command
    list_commands = getattr(root, "list_commands", None)
    return set(list_commands(ctx.find_root())) if list_commands else set()
