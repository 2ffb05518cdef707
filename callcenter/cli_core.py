"""Core subcommands: db, seed, user, serve, up (filled in by the case-core work)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the core subcommands to ``app``."""
