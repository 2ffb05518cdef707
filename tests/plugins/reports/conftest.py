"""The reports plugin's tests use the kernel's seeded databases and the console's live server and
browser fixtures (test support only: the plugins themselves do not import each other)."""

from tests.kernel.conftest import seeded_sqlite, seeded_url  # noqa: F401
from tests.plugins.console.conftest import browser, console_db, live_server, new_page  # noqa: F401
