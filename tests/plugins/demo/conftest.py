"""Fixtures of the demo tests: the console's seeded database and live API server."""

from tests.plugins.console.conftest import console_db, live_server

__all__ = ["console_db", "live_server"]
