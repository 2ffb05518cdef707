"""Pure rules of callbacks and return visits (回拨 / 回访) — no I/O, no clock of their own.

* calling window (外呼时段): when the citizen may be called, in the hotline's time zone;
* back-off (重试间隔) after a failed attempt and the attempt limit;
* classification of an AMI ``OriginateResponse`` (busy / no answer / congestion / unavailable …);
* fairness between callers waiting in the queue and queue callbacks (先到先服务);
* what a return-visit answer does to the case (评价, 重办, 二次回访);
* phone-number normalisation for the do-not-call list (免打扰名单).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Any, Literal
from zoneinfo import ZoneInfo

# --------------------------------------------------------------------------- calling window


def parse_hhmm(value: str) -> time:
    """``"08:00"`` → ``time(8, 0)``; ``"24:00"`` is the end of the day. Raises ValueError."""
    m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", value)
    if not m:
        raise ValueError(f"time must be HH:MM, got {value!r}")
    hh, mm = int(m.group(1)), int(m.group(2))
    if hh == 24 and mm == 0:
        return time.max
    if not (0 <= hh <= 23 and 0 <= mm <= 59):
        raise ValueError(f"time out of range: {value!r}")
    return time(hh, mm)


@dataclass(frozen=True)
class CallingWindow:
    """Daily calling window (外呼时段) ``[start, end)`` in time zone ``tz``; may wrap past midnight.

    ``start == end`` means no restriction (all day).
    """

    start: time
    end: time
    tz: ZoneInfo

    @classmethod
    def parse(cls, start: str, end: str, tz: str) -> CallingWindow:
        return cls(parse_hhmm(start), parse_hhmm(end), ZoneInfo(tz))

    @property
    def always(self) -> bool:
        return self.start == self.end

    def contains(self, moment: datetime) -> bool:
        """Whether an aware ``moment`` lies in the window."""
        if self.always:
            return True
        t = moment.astimezone(self.tz).time()
        if self.start < self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end  # wraps midnight

    def next_open(self, moment: datetime) -> datetime:
        """``moment`` if inside the window, else the next opening (aware, in ``moment``'s zone)."""
        if self.contains(moment):
            return moment
        local = moment.astimezone(self.tz)
        candidate = datetime.combine(local.date(), self.start, self.tz)
        if candidate <= local:
            candidate = datetime.combine(local.date() + timedelta(days=1), self.start, self.tz)
        return candidate.astimezone(moment.tzinfo)


# --------------------------------------------------------------------------- attempts


class Failure(StrEnum):
    """Why an attempt did not reach the citizen (外呼失败原因)."""

    BUSY = "busy"  # 忙
    NO_ANSWER = "no_answer"  # 无人接听
    CONGESTION = "congestion"  # 线路拥塞
    UNAVAILABLE = "unavailable"  # 无法接通 / 通道不可用
    DROPPED = "dropped"  # 接通后中断 (e.g. Asterisk restarted during the survey)
    INCOMPLETE = "incomplete"  # 接通但未完成回访
    AMI_ERROR = "ami_error"  # Asterisk not reachable, no answer from the bridge
    BAD_REQUEST = "bad_request"  # our command was invalid: retrying cannot help


#: Failures not worth another attempt.
PERMANENT = frozenset({Failure.BAD_REQUEST})

#: ``OriginateResponse`` ``Reason`` codes (``enum ast_control_frame_type`` of Asterisk).
_REASONS = {
    "0": Failure.UNAVAILABLE,  # the channel could not be created / dialled at all
    "1": Failure.NO_ANSWER,  # hung up before answer
    "3": Failure.NO_ANSWER,  # still ringing at the timeout
    "5": Failure.BUSY,
    "8": Failure.CONGESTION,
}


@dataclass(frozen=True)
class OriginateOutcome:
    """An originate result reduced to: answered, or a classified failure."""

    answered: bool
    failure: Failure | None = None
    detail: str = ""


def classify_originate(result: dict[str, Any]) -> OriginateOutcome:
    """Classify a command result of ``callcenter.plugins.telephony.commands`` for an ``originate``.

    ``result`` is the JSON the AMI bridge stores (``ok``, ``error``, ``response``, ``message``,
    ``data.reason`` = the ``OriginateResponse`` reason code).
    """
    if result.get("ok") is True:
        return OriginateOutcome(True)
    error = str(result.get("error") or "")
    message = str(result.get("message") or "")
    if error == "bad_request":
        return OriginateOutcome(False, Failure.BAD_REQUEST, message)
    if error in ("ami_disconnected", "timeout", "exception", "expired"):
        return OriginateOutcome(False, Failure.AMI_ERROR, f"{error}: {message}".strip(": "))
    data = result.get("data") or {}
    reason = str(data.get("reason", "")).strip() if isinstance(data, dict) else ""
    if reason in _REASONS:
        return OriginateOutcome(False, _REASONS[reason], f"reason {reason}")
    if reason == "4":  # answered but the bridge said not ok (should not happen): treat as dropped
        return OriginateOutcome(False, Failure.DROPPED, "reason 4 without success")
    # an immediate "Error" response (e.g. "Originate failed"): the channel was unavailable
    return OriginateOutcome(False, Failure.UNAVAILABLE, message or f"reason {reason or '?'}")


def backoff_s(attempts_done: int, schedule: Sequence[int]) -> int:
    """Seconds to wait before the next attempt, after ``attempts_done`` (≥ 1) attempts."""
    if not schedule:
        return 0
    i = min(max(attempts_done, 1), len(schedule)) - 1
    return max(0, int(schedule[i]))


@dataclass(frozen=True)
class RetryDecision:
    retry: bool
    next_attempt_at: datetime | None
    status: Literal["scheduled", "failed"]


def after_failure(
    failure: Failure,
    attempts_done: int,
    max_attempts: int,
    now: datetime,
    schedule: Sequence[int],
    window: CallingWindow | None = None,
) -> RetryDecision:
    """What to do after a failed attempt: schedule the next one (back-off, window) or give up."""
    if failure in PERMANENT or attempts_done >= max_attempts:
        return RetryDecision(False, None, "failed")
    at = now + timedelta(seconds=backoff_s(attempts_done, schedule))
    if window is not None:
        at = window.next_open(at)
    return RetryDecision(True, at, "scheduled")


# --------------------------------------------------------------------------- fairness


def queue_callback_turn(requested_at: datetime, waiting_since: Iterable[datetime]) -> bool:
    """A queue callback (预约回拨) is due when no caller still waiting in the queue arrived before it.

    The callback keeps the caller's place (``requested_at`` is when they joined the queue), so callers
    and callbacks are served in one arrival order and callbacks never jump over earlier callers.
    """
    return all(requested_at <= w for w in waiting_since)


def order_queue_callbacks(items: Iterable[tuple[int, datetime]]) -> list[int]:
    """Callback ids in arrival order (ties broken by id)."""
    return [i for i, _ in sorted(items, key=lambda it: (it[1], it[0]))]


# --------------------------------------------------------------------------- return-visit answers


class FollowUp(StrEnum):
    NONE = "none"
    REOPEN = "reopen"  # 重办: back to the center, dispatched again
    SECOND_VISIT = "second_visit"  # 二次回访


@dataclass(frozen=True)
class SurveyPolicy:
    """What an unfavourable answer leads to."""

    on_unresolved: FollowUp = FollowUp.REOPEN
    on_unsatisfied: FollowUp = FollowUp.SECOND_VISIT
    max_visits: int = 2


@dataclass(frozen=True)
class SurveyDecision:
    evaluate: bool  # apply 评价 to the case now
    follow_up: FollowUp


def decide_survey(
    resolved: bool | None, satisfaction: str | None, visit_no: int, policy: SurveyPolicy
) -> SurveyDecision:
    """Apply a complete answer (resolved + satisfaction) of visit ``visit_no`` (1-based).

    * resolved and satisfied / basically satisfied → 评价, done;
    * not resolved → ``on_unresolved`` (default 重办: evaluate, then reopen the case);
    * resolved but unsatisfied → ``on_unsatisfied`` (default 二次回访: the case stays closed and is
      called again; the answer of the last allowed visit is final and is evaluated).
    """
    if resolved is None or satisfaction is None:
        raise ValueError("decide_survey needs a complete answer")
    follow = FollowUp.NONE
    if resolved is False:
        follow = policy.on_unresolved
    elif satisfaction == "unsatisfied":
        follow = policy.on_unsatisfied
    if follow is FollowUp.SECOND_VISIT:
        if visit_no >= policy.max_visits:
            return SurveyDecision(True, FollowUp.NONE)
        return SurveyDecision(False, FollowUp.SECOND_VISIT)
    return SurveyDecision(True, follow)


# --------------------------------------------------------------------------- phones


def normalize_phone(phone: str) -> str:
    """Digits only, without the +86 / 0086 country prefix: the key of the do-not-call list."""
    digits = re.sub(r"\D", "", phone or "")
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) - len(prefix) >= 11:
            digits = digits[len(prefix) :]
            break
    if not 3 <= len(digits) <= 20:
        raise ValueError(f"not a phone number: {phone!r}")
    return digits
