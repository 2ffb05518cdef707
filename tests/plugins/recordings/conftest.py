"""The console's fixtures (live server, Chromium) for the recordings tests."""

from tests.plugins.console.conftest import browser  # noqa: F401
