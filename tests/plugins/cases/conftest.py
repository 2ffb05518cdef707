"""Fixtures of the cases plugin's tests: the kernel's seeded databases (SQLite and PostgreSQL) and API
client, with its test users (``street1`` of S110101001, ``street2`` of S110101002, ``water1``)."""

from tests.kernel.conftest import auth, client, seeded_sqlite, seeded_url  # noqa: F401
