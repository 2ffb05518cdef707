"""``callcenter grid …``: import grids and grid workers from CSV files."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    grid = typer.Typer(help="网格: grids and grid workers")
    app.add_typer(grid, name="grid")

    @grid.command("import")
    def import_(
        grids: Path = typer.Option(
            ..., exists=True, dir_okay=False, help="grids CSV (code,name,community_code,keywords)"
        ),
        members: Path | None = typer.Option(
            None, exists=True, dir_okay=False, help="members CSV (username,display_name,grid_code,duty)"
        ),
        initial_password: str = typer.Option(
            "",
            envvar="CALLCENTER_GRID_INITIAL_PASSWORD",
            help="password of new grid workers (they change it)",
        ),
    ) -> None:
        """Import grids (and their workers); a bad line stops the import with its line number."""
        from callcenter.config import get_settings
        from callcenter.db.session import session_scope
        from callcenter.exceptions import CallCenterError
        from callcenter.plugins.grid import services as svc

        settings = get_settings()
        if members is not None and len(initial_password) < 12:
            raise typer.BadParameter("--initial-password of 12+ characters is needed for new users")
        current = grids
        try:
            with session_scope(settings.database_url) as session:
                n = svc.import_grids(session, grids.read_text(encoding="utf-8-sig"))
                m = 0
                if members is not None:
                    current = members
                    m = svc.import_members(session, members.read_text(encoding="utf-8-sig"), initial_password)
        except CallCenterError as exc:
            typer.echo(f"{current}: {exc.message}", err=True)
            raise typer.Exit(2) from exc
        typer.echo(f"imported {n} grids, {m} grid members")
