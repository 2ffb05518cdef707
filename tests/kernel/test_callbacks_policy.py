"""Pure rules of the dialler: window, back-off, OriginateResponse classification, fairness, survey policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callcenter.domain import callbacks as policy
from callcenter.domain.callbacks import CallingWindow, Failure, FollowUp, SurveyPolicy
from callcenter.domain.survey import AnswerGrammar

SH = ZoneInfo("Asia/Shanghai")


def sh(h: int, m: int = 0, day: int = 23) -> datetime:
    return datetime(2026, 11, day, h, m, tzinfo=SH)


def test_default_window_is_8_to_21_shanghai() -> None:
    w = CallingWindow.parse("08:00", "21:00", "Asia/Shanghai")
    assert not w.contains(sh(7, 59))
    assert w.contains(sh(8, 0)) and w.contains(sh(20, 59))
    assert not w.contains(sh(21, 0))
    # 13:30 UTC is 21:30 in Shanghai: closed, next opening 08:00 Shanghai the next day
    moment = datetime(2026, 11, 23, 13, 30, tzinfo=UTC)
    assert not w.contains(moment)
    assert w.next_open(moment) == sh(8, 0, day=24)
    assert w.next_open(moment).tzinfo == UTC
    assert w.next_open(sh(6, 0)) == sh(8, 0)
    assert w.next_open(sh(9, 0)) == sh(9, 0)


def test_window_over_midnight_and_all_day() -> None:
    night = CallingWindow.parse("22:00", "02:00", "Asia/Shanghai")
    assert night.contains(sh(23)) and night.contains(sh(1)) and not night.contains(sh(12))
    assert night.next_open(sh(12)) == sh(22)
    always = CallingWindow.parse("00:00", "00:00", "Asia/Shanghai")
    assert always.always and always.contains(sh(3))
    assert CallingWindow.parse("00:00", "24:00", "Asia/Shanghai").contains(sh(23, 59))


@pytest.mark.parametrize("bad", ["8", "25:00", "08:60", "x"])
def test_bad_window_times_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        policy.parse_hhmm(bad)


@given(st.datetimes(timezones=st.just(UTC)), st.integers(0, 23), st.integers(0, 23))
def test_next_open_is_always_inside_and_not_earlier(moment: datetime, a: int, b: int) -> None:
    w = CallingWindow.parse(f"{a:02d}:00", f"{b:02d}:00", "Asia/Shanghai")
    nxt = w.next_open(moment)
    assert nxt >= moment and w.contains(nxt)
    assert nxt - moment <= timedelta(days=1)


def test_backoff_and_attempt_limit() -> None:
    schedule = [600, 1800, 3600]
    assert [policy.backoff_s(n, schedule) for n in (1, 2, 3, 4, 9)] == [600, 1800, 3600, 3600, 3600]
    assert policy.backoff_s(1, []) == 0
    now = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 Shanghai
    d = policy.after_failure(Failure.BUSY, 1, 3, now, schedule)
    assert d.retry and d.status == "scheduled" and d.next_attempt_at == now + timedelta(seconds=600)
    assert policy.after_failure(Failure.NO_ANSWER, 3, 3, now, schedule).status == "failed"
    assert policy.after_failure(Failure.BAD_REQUEST, 1, 3, now, schedule).status == "failed"
    # a retry that would fall after 21:00 waits for the next morning
    late = datetime(2026, 11, 23, 12, 55, tzinfo=UTC)  # 20:55 Shanghai
    w = CallingWindow.parse("08:00", "21:00", "Asia/Shanghai")
    d = policy.after_failure(Failure.CONGESTION, 1, 3, late, schedule, w)
    assert d.next_attempt_at == sh(8, 0, day=24)


@pytest.mark.parametrize(
    ("result", "answered", "failure"),
    [
        ({"ok": True, "data": {"reason": "4", "response": "Success"}}, True, None),
        ({"ok": False, "response": "Success", "data": {"reason": "5", "response": "Failure"}}, False, "busy"),
        ({"ok": False, "data": {"reason": "3", "response": "Failure"}}, False, "no_answer"),
        ({"ok": False, "data": {"reason": "1", "response": "Failure"}}, False, "no_answer"),
        ({"ok": False, "data": {"reason": "8", "response": "Failure"}}, False, "congestion"),
        ({"ok": False, "data": {"reason": "0", "response": "Failure"}}, False, "unavailable"),
        ({"ok": False, "response": "Error", "message": "Originate failed"}, False, "unavailable"),
        ({"ok": False, "error": "ami_disconnected", "message": "x"}, False, "ami_error"),
        ({"ok": False, "error": "timeout", "message": "x"}, False, "ami_error"),
        ({"ok": False, "error": "expired", "message": "x"}, False, "ami_error"),
        ({"ok": False, "error": "bad_request", "message": "missing context"}, False, "bad_request"),
    ],
)
def test_originate_response_classification(result: dict, answered: bool, failure: str | None) -> None:
    out = policy.classify_originate(result)
    assert out.answered is answered
    assert (out.failure and str(out.failure)) == failure


def test_queue_callbacks_keep_their_place() -> None:
    t0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    waiting = [t0 + timedelta(seconds=30), t0 + timedelta(seconds=90)]
    assert policy.queue_callback_turn(t0, waiting)  # joined before everyone still waiting
    assert policy.queue_callback_turn(t0, [])
    assert not policy.queue_callback_turn(t0 + timedelta(seconds=60), waiting)  # one earlier caller waits
    assert policy.order_queue_callbacks([(3, t0), (1, t0 + timedelta(seconds=5)), (2, t0)]) == [2, 3, 1]


def test_survey_policy() -> None:
    p = SurveyPolicy()
    ok = policy.decide_survey(True, "satisfied", 1, p)
    assert ok.evaluate and ok.follow_up is FollowUp.NONE
    assert policy.decide_survey(True, "basic", 1, p).follow_up is FollowUp.NONE
    unresolved = policy.decide_survey(False, "satisfied", 1, p)
    assert unresolved.evaluate and unresolved.follow_up is FollowUp.REOPEN
    unhappy = policy.decide_survey(True, "unsatisfied", 1, p)
    assert not unhappy.evaluate and unhappy.follow_up is FollowUp.SECOND_VISIT
    last = policy.decide_survey(True, "unsatisfied", 2, p)  # the second visit's answer is final
    assert last.evaluate and last.follow_up is FollowUp.NONE
    none = SurveyPolicy(on_unresolved=FollowUp.NONE, on_unsatisfied=FollowUp.REOPEN)
    assert policy.decide_survey(False, "basic", 1, none) == policy.SurveyDecision(True, FollowUp.NONE)
    assert policy.decide_survey(True, "unsatisfied", 1, none).follow_up is FollowUp.REOPEN
    with pytest.raises(ValueError):
        policy.decide_survey(None, "basic", 1, p)


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("13912345678", "13912345678"),
        ("+86 139-1234-5678", "13912345678"),
        ("0086 13912345678", "13912345678"),
        ("010-6512 3456", "01065123456"),
    ],
)
def test_phone_normalisation(raw: str, key: str) -> None:
    assert policy.normalize_phone(raw) == key


@pytest.mark.parametrize("bad", ["", "abc", "12"])
def test_bad_phone_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        policy.normalize_phone(bad)


def test_answer_grammars() -> None:
    zh = AnswerGrammar.builtin("zh")
    assert zh.answer("satisfaction", "不满意") == "unsatisfied"  # not "满意": the longest phrase wins
    assert zh.answer("satisfaction", "基本 满意") == "basic"
    assert zh.answer("satisfaction", "满意") == "satisfied"
    assert zh.answer("resolved", "没解决") is False and zh.answer("resolved", "解决了") is True
    assert zh.answer("resolved", "") is None
    assert set(zh.phrases("satisfaction")) == {"满意", "基本满意", "不满意"}
    ko = AnswerGrammar.builtin("ko")
    assert ko.answer("resolved", "네") is True and ko.answer("satisfaction", "만족") == "satisfied"
    with pytest.raises(ValueError):
        AnswerGrammar.builtin("xx")
