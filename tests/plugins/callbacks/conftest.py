"""Callback tests: the calling window is open all day unless a test says otherwise.

The AGI handler reads the process settings (``get_settings()``) when it finishes an attempt, so the
window and back-off of the tests are set in the environment, like a deployment would.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from callcenter.config import get_settings


@pytest.fixture(autouse=True)
def _callback_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CALLCENTER_CALLBACKS__WINDOW_START", "00:00")
    monkeypatch.setenv("CALLCENTER_CALLBACKS__WINDOW_END", "00:00")
    monkeypatch.setenv("CALLCENTER_CALLBACKS__RETRY_BACKOFF_S", "[600, 1800]")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
