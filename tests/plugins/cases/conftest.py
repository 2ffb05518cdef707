"""The cases plugin's API tests use the kernel's seeded database and logged-in client fixtures."""

from tests.kernel.conftest import auth, client, seeded_sqlite, seeded_url  # noqa: F401
