"""Report periods and the previous period they are compared with (pure)."""

from __future__ import annotations

from datetime import date

import pytest

from callcenter.plugins.reports.periods import Period, due_periods, period_for

TODAY = date(2026, 12, 2)  # a Wednesday


def test_default_periods_are_the_last_complete_ones() -> None:
    assert period_for("daily", TODAY) == Period("daily", date(2026, 12, 1), date(2026, 12, 1))
    assert period_for("weekly", TODAY) == Period("weekly", date(2026, 11, 23), date(2026, 11, 29))
    assert period_for("monthly", TODAY) == Period("monthly", date(2026, 11, 1), date(2026, 11, 30))
    assert period_for("monthly", date(2026, 3, 1)).start == date(2026, 2, 1)
    assert period_for("monthly", date(2026, 3, 1)).end == date(2026, 2, 28)


def test_previous_periods() -> None:
    assert period_for("monthly", TODAY).previous() == Period("monthly", date(2026, 10, 1), date(2026, 10, 31))
    assert period_for("weekly", TODAY).previous().start == date(2026, 11, 16)
    r = period_for("range", TODAY, date(2026, 11, 5), date(2026, 11, 14))
    assert r.days == 10 and r.previous() == Period("range", date(2026, 10, 26), date(2026, 11, 4))


def test_anchor_and_errors() -> None:
    assert period_for("weekly", TODAY, date(2026, 11, 18)).start == date(2026, 11, 16)
    assert period_for("monthly", TODAY, date(2026, 2, 10)).end == date(2026, 2, 28)
    with pytest.raises(ValueError, match="unknown report kind"):
        period_for("yearly", TODAY)
    with pytest.raises(ValueError, match="needs --start and --end"):
        period_for("range", TODAY, date(2026, 11, 1))
    with pytest.raises(ValueError, match="end is before start"):
        period_for("range", TODAY, date(2026, 11, 2), date(2026, 11, 1))
    with pytest.raises(ValueError, match="at most"):
        period_for("range", TODAY, date(2024, 1, 1), date(2026, 1, 1))
    with pytest.raises(ValueError, match="between"):
        period_for("daily", TODAY, date(1, 1, 1))
    assert [p.kind for p in due_periods(["daily", "monthly"], TODAY)] == ["daily", "monthly"]
