"""Fixtures of the admin tests: the console's Chromium (module-scoped) and live server helpers."""

from tests.plugins.console.conftest import browser

__all__ = ["browser"]
