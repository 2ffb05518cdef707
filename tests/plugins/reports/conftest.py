"""The reports plugin's tests use the kernel's seeded database fixtures."""

from tests.kernel.conftest import seeded_sqlite, seeded_url  # noqa: F401
