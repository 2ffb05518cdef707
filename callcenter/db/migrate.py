"""Alembic migrations, driven from code (``callcenter db upgrade``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["configure_logger"] = False
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision``."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def current(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    from callcenter.db.session import get_engine

    with get_engine(url).connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head() -> str | None:
    """The newest revision of the migrations shipped with this code."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def schema_problem(url: str) -> str | None:
    """Why the database at ``url`` cannot be served yet (never migrated, or behind this code), as a
    sentence that names the fix; None when it is at the newest revision. A database that cannot be
    reached is reported too (the services would only loop on the same error)."""
    try:
        now = current(url)
    except Exception as exc:  # unreachable server, bad URL, permissions: say so once
        return f"cannot open the database ({exc.__class__.__name__}: {exc})"
    want = head()
    if now is None:
        return "the database was never migrated: run `callcenter db upgrade` (then `callcenter seed`)"
    if now != want:
        return f"the database is at revision {now}, this code needs {want}: run `callcenter db upgrade`"
    return None
