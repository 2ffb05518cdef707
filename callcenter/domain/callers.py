"""Callers who call again (重复来电): one definition for the IVR's caller profile and the agent's
screen-pop, so the flag the IVR sets (``CC_REPEAT_CALLER``) and the one the console shows agree."""

from __future__ import annotations

from datetime import timedelta

#: An earlier call from the same number within this window makes the caller a repeat caller.
REPEAT_CALL_WINDOW = timedelta(days=30)


def is_repeat_caller(earlier_calls_in_window: int, open_cases: int) -> bool:
    """A repeat caller called before within :data:`REPEAT_CALL_WINDOW` or has a case still open."""
    return earlier_calls_in_window > 0 or open_cases > 0
