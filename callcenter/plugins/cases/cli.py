"""``callcenter sweep-overdue``: 督办 every overdue case once (the worker also runs it periodically)."""

from __future__ import annotations

import typer

from callcenter.cli_support import console, settings_or_exit


def sweep_overdue() -> None:
    """督办: flag every overdue case once (also run periodically by the worker)."""
    from callcenter.db.session import session_scope
    from callcenter.services.cases import sweep_overdue as sweep

    with session_scope(settings_or_exit().database_url) as session:
        numbers = sweep(session)
    console.print(f"{len(numbers)} overdue case(s) put under supervision")
    for n in numbers:
        typer.echo(n)


def register(app: typer.Typer) -> None:
    app.command("sweep-overdue")(sweep_overdue)
