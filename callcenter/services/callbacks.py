"""Callback rows in the database (回拨 / 回访 服务): schedule, claim, finish, apply survey answers.

State machine of a ``callbacks`` row (``status``; ``outcome["phase"]`` while in progress)::

    scheduled ──claim──► in_progress/claimed ──command sent──► in_progress/dialing
        ▲                                                         │ OriginateResponse
        │  back-off (attempts < max)                   failure ◄──┤
        └──────────────────────────────────────────────────────────┤ answered
                                                                  ▼
                        done ◄── survey complete / queue callback connected ── in_progress/connected
    failed (attempts exhausted or permanent) · cancelled (do-not-call)

Only ``scheduled`` rows are claimed, and a claim is a compare-and-set in one transaction (PostgreSQL:
``FOR UPDATE SKIP LOCKED`` under a transaction-level advisory lock that also guards the concurrency
cap; SQLite: the write lock taken at ``BEGIN IMMEDIATE``), so there is exactly one attempt at a time
per callback. Every step that finishes an attempt checks ``(status, attempt)`` first, so the AGI
handler and any dialler may race to report the same attempt: the first one wins, the rest do nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from callcenter.config import CallbackSettings, Settings
from callcenter.db.models import Call, Callback, Case, CaseEvent, DoNotCall, SurveyResult
from callcenter.domain import callbacks as policy
from callcenter.events import STREAM_CALLBACKS, enqueue
from callcenter.exceptions import CallCenterError
from callcenter.observability import CALLBACK_OUTCOMES, count_on_commit

log = logging.getLogger(__name__)

KINDS = ("queue_callback", "return_visit")
ACTIVE = ("scheduled", "in_progress")
_CLAIM_LOCK = 0x63616C6C  # advisory lock id ("call")


def _aware(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def window_of(settings: Settings) -> policy.CallingWindow:
    cb = settings.callbacks
    return policy.CallingWindow.parse(cb.window_start, cb.window_end, settings.timezone)


def action_id(callback_id: int, attempt: int) -> str:
    """AMI ActionID and ChannelId of one attempt: the idempotency key of the originate."""
    return f"cb-{callback_id}-{attempt}"


def _event(session: Session, type_: str, cb: Callback, **extra: Any) -> None:
    enqueue(
        session,
        STREAM_CALLBACKS,
        type_,
        {
            "callback_id": cb.id,
            "kind": cb.kind,
            "status": cb.status,
            "attempts": cb.attempts,
            "case_id": cb.case_id,
            "case_number": (cb.outcome or {}).get("case_number"),
            "last_result": cb.last_result,
            "next_attempt_at": _iso(cb.next_attempt_at),
            **extra,
        },
    )


# --------------------------------------------------------------------------- scheduling


def schedule(
    session: Session,
    *,
    kind: str,
    key: str,
    phone: str,
    at: datetime,
    max_attempts: int,
    case_id: int | None = None,
    call_id: int | None = None,
    requested_at: datetime | None = None,
    outcome: dict[str, Any] | None = None,
) -> tuple[Callback, bool]:
    """Add a callback unless one with ``key`` exists (idempotent); returns ``(row, created)``."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    policy.normalize_phone(phone)  # raises on garbage
    existing = session.scalar(select(Callback).where(Callback.idempotency_key == key))
    if existing is not None:
        return existing, False
    now = requested_at or at
    try:
        with session.begin_nested():
            cb = Callback(
                kind=kind,
                idempotency_key=key,
                case_id=case_id,
                call_id=call_id,
                phone=phone,
                status="scheduled",
                requested_at=now,
                next_attempt_at=at,
                attempts=0,
                max_attempts=max_attempts,
                outcome=dict(outcome or {}),
                updated_at=now,
            )
            session.add(cb)
            session.flush()
    except IntegrityError:
        existing = session.scalar(select(Callback).where(Callback.idempotency_key == key))
        if existing is None:  # pragma: no cover
            raise
        return existing, False
    _event(session, "callback.scheduled", cb)
    return cb, True


def return_visit_key(case_number: str, n: int, visit: int = 1) -> str:
    """Idempotency key of the return visit after the ``n``-th closing (``:2`` for 二次回访)."""
    return f"rv:{case_number}:{n}" if visit == 1 else f"rv:{case_number}:{n}:{visit}"


def schedule_return_visit(
    session: Session,
    case_number: str,
    settings: Settings,
    now: datetime,
    *,
    trigger_seq: int | None = None,
) -> tuple[Callback | None, str]:
    """Schedule the return visit (回访) of a case that was closed (or got unit feedback).

    ``trigger_seq`` is the case event that triggered it; ``n`` in the key is the ordinal of that
    event among the case's closings (or feedbacks), so re-delivered events schedule nothing new and a
    case reopened and closed again gets a new visit. Returns ``(row or None, reason)``.
    """
    case = session.scalar(select(Case).where(Case.number == case_number))
    if case is None:
        return None, "unknown case"
    if not case.caller_phone:
        return None, "case has no caller phone"
    try:
        policy.normalize_phone(case.caller_phone)
    except ValueError:
        return None, "case has no usable caller phone"
    action = "close" if settings.callbacks.return_visit_after == "closed" else "feedback"
    q = (
        select(func.count())
        .select_from(CaseEvent)
        .where(CaseEvent.case_id == case.id, CaseEvent.action == action)
    )
    if trigger_seq is not None:
        q = q.where(CaseEvent.seq <= trigger_seq)
    n = int(session.scalar(q) or 0) or 1
    cb, created = schedule(
        session,
        kind="return_visit",
        key=return_visit_key(case.number, n),
        phone=case.caller_phone,
        at=now + timedelta(seconds=settings.callbacks.return_visit_delay_s),
        requested_at=now,
        max_attempts=settings.callbacks.max_attempts,
        case_id=case.id,
        outcome={"case_number": case.number, "visit": 1, "closing": n},
    )
    return cb, "scheduled" if created else "exists"


# --------------------------------------------------------------------------- do-not-call


def add_do_not_call(session: Session, phone: str, reason: str = "") -> str:
    key = policy.normalize_phone(phone)
    row = session.get(DoNotCall, key)
    if row is None:
        session.add(DoNotCall(phone=key, reason=reason[:256]))
    return key


def remove_do_not_call(session: Session, phone: str) -> bool:
    row = session.get(DoNotCall, policy.normalize_phone(phone))
    if row is None:
        return False
    session.delete(row)
    return True


def _blocked(session: Session, phones: list[str]) -> set[str]:
    keys = set()
    for p in phones:
        try:
            keys.add(policy.normalize_phone(p))
        except ValueError:
            continue
    if not keys:
        return set()
    return set(session.scalars(select(DoNotCall.phone).where(DoNotCall.phone.in_(keys))))


# --------------------------------------------------------------------------- claiming


@dataclass(frozen=True)
class Claim:
    """One attempt to dial, committed before the command is sent."""

    callback_id: int
    kind: str
    phone: str
    attempt: int
    action_id: str
    case_number: str | None


def waiting_since(session: Session, queue: str, now: datetime, horizon_s: int) -> list[datetime]:
    """When each caller still waiting in ``queue`` joined it (from the call rows the bridge keeps)."""
    rows = session.scalars(
        select(Call.queued_at).where(
            Call.queue == queue,
            Call.queued_at.is_not(None),
            Call.queued_at >= now - timedelta(seconds=horizon_s),
            Call.answered_at.is_(None),
            Call.ended_at.is_(None),
        )
    )
    return [d for d in (_aware(r) for r in rows) if d is not None]


def claim_due(
    session: Session,
    now: datetime,
    settings: Settings,
    worker_id: str,
) -> list[Claim]:
    """Claim the callbacks to dial now (within the window, the cap, the do-not-call list, fairness).

    Runs in the caller's transaction; commit it before sending the commands.
    """
    if not window_of(settings).contains(now):
        return []
    pg = session.get_bind().dialect.name == "postgresql"
    if pg:  # one claimer at a time: the concurrency cap is counted and filled atomically
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CLAIM_LOCK})
    busy = int(
        session.scalar(select(func.count()).select_from(Callback).where(Callback.status == "in_progress"))
        or 0
    )
    free = settings.callbacks.max_concurrent_calls - busy
    if free <= 0:
        return []
    q = (
        select(Callback)
        .where(Callback.status == "scheduled", Callback.next_attempt_at <= now)
        .order_by(Callback.requested_at, Callback.id)
        .limit(max(free, 1) + settings.callbacks.claim_batch)
    )
    if pg:
        q = q.with_for_update(skip_locked=True)
    rows = list(session.scalars(q))
    if not rows:
        return []
    blocked = _blocked(session, [r.phone for r in rows])
    waiting: list[datetime] | None = None
    claims: list[Claim] = []
    for cb in rows:
        try:
            key = policy.normalize_phone(cb.phone)
        except ValueError:
            key = ""
        if key in blocked or not key:
            cb.status = "cancelled"
            cb.last_result = "do_not_call" if key else "bad_phone"
            cb.updated_at = now
            count_on_commit(session, CALLBACK_OUTCOMES.labels(cb.kind, "cancelled", cb.last_result))
            _event(session, "callback.failed", cb, reason=cb.last_result)
            continue
        if len(claims) >= free:
            continue
        if cb.kind == "queue_callback":
            if waiting is None:
                waiting = waiting_since(
                    session, settings.asterisk.queue, now, settings.callbacks.queue_wait_horizon_s
                )
            requested = _aware(cb.requested_at) or now
            if not policy.queue_callback_turn(requested, waiting):
                continue  # an earlier caller still waits: keep the place, do not jump ahead
        attempt = cb.attempts + 1
        aid = action_id(cb.id, attempt)
        cb.status = "in_progress"
        cb.attempts = attempt
        cb.locked_by = worker_id
        cb.locked_until = now + timedelta(seconds=settings.callbacks.lease_s)
        cb.updated_at = now
        out = dict(cb.outcome or {})
        out.update(attempt=attempt, phase="claimed", action_id=aid, attempt_started_at=now.isoformat())
        cb.outcome = out
        _event(session, "callback.attempt", cb, attempt=attempt, action_id=aid)
        claims.append(Claim(cb.id, cb.kind, cb.phone, attempt, aid, out.get("case_number")))
    session.flush()
    return claims


def _locked(session: Session, callback_id: int) -> Callback | None:
    q = select(Callback).where(Callback.id == callback_id)
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update()
    return session.scalar(q)


def _current(session: Session, callback_id: int, attempt: int) -> Callback | None:
    """The row if ``attempt`` is still the attempt in progress (else someone already finished it)."""
    cb = _locked(session, callback_id)
    if cb is None or cb.status != "in_progress" or cb.attempts != attempt:
        return None
    return cb


def mark_phase(
    session: Session, callback_id: int, attempt: int, phase: str, now: datetime, lease_s: float, **data: Any
) -> bool:
    cb = _current(session, callback_id, attempt)
    if cb is None:
        return False
    out = dict(cb.outcome or {})
    out.update(phase=phase, **data)
    cb.outcome = out
    cb.locked_until = now + timedelta(seconds=lease_s)
    cb.updated_at = now
    if phase == "connected":
        _event(session, "callback.connected", cb, attempt=attempt)
    return True


def _history(cb: Callback, entry: dict[str, Any]) -> None:
    out = dict(cb.outcome or {})
    out["history"] = [*out.get("history", []), entry][-20:]
    out.pop("phase", None)
    cb.outcome = out


def fail_attempt(
    session: Session,
    callback_id: int,
    attempt: int,
    failure: policy.Failure,
    now: datetime,
    cb_settings: CallbackSettings,
    window: policy.CallingWindow | None,
    detail: str = "",
) -> policy.RetryDecision | None:
    """Record a failed attempt and schedule the next one (or give up). None if already finished."""
    cb = _current(session, callback_id, attempt)
    if cb is None:
        return None
    decision = policy.after_failure(
        failure, cb.attempts, cb.max_attempts, now, cb_settings.retry_backoff_s, window
    )
    _history(cb, {"attempt": attempt, "at": now.isoformat(), "result": str(failure), "detail": detail})
    cb.last_result = str(failure)
    cb.status = decision.status
    outcome = "failed" if decision.status == "failed" else "retry"
    count_on_commit(session, CALLBACK_OUTCOMES.labels(cb.kind, outcome, str(failure)))
    cb.locked_by = None
    cb.locked_until = None
    cb.updated_at = now
    if decision.next_attempt_at is not None:
        cb.next_attempt_at = decision.next_attempt_at
    _event(
        session,
        "callback.failed" if decision.status == "failed" else "callback.retry",
        cb,
        attempt=attempt,
        reason=str(failure),
        detail=detail,
    )
    return decision


def complete_attempt(
    session: Session, callback_id: int, attempt: int, result: str, now: datetime, **data: Any
) -> bool:
    """The attempt reached its goal: status ``done`` with ``result`` (e.g. ``survey_complete``)."""
    cb = _current(session, callback_id, attempt)
    if cb is None:
        return False
    _history(cb, {"attempt": attempt, "at": now.isoformat(), "result": result})
    out = dict(cb.outcome or {})
    out.update(data)
    cb.outcome = out
    cb.status = "done"
    cb.last_result = result
    count_on_commit(session, CALLBACK_OUTCOMES.labels(cb.kind, "done", result))
    cb.locked_by = None
    cb.locked_until = None
    cb.updated_at = now
    _event(session, "callback.done", cb, attempt=attempt, result=result)
    return True


def in_progress(session: Session, *, expired_before: datetime | None = None) -> list[Callback]:
    q = select(Callback).where(Callback.status == "in_progress").order_by(Callback.id)
    if expired_before is not None:
        q = q.where(Callback.locked_until < expired_before)
    return list(session.scalars(q))


# --------------------------------------------------------------------------- survey answers


@dataclass(frozen=True)
class SurveyOutcome:
    survey_id: int
    evaluated: bool
    follow_up: str
    callback_status: str | None


def apply_survey(
    session: Session,
    *,
    case_number: str,
    callback_id: int | None,
    resolved: bool | None,
    satisfaction: str | None,
    method: str,
    raw: dict[str, Any],
    now: datetime,
    settings: Settings,
) -> SurveyOutcome:
    """Store a return-visit answer (回访评价) and apply it to the case and the callback.

    Complete answers become the case's evaluation (评价, which moves the KPIs) and per policy
    reopen the case (重办) or schedule a second visit (二次回访). An incomplete answer (hang-up,
    no input) is stored too and counts as a failed attempt (retried per the back-off).
    """
    from callcenter.domain.workflow import Actor, Command, Role
    from callcenter.services.cases import transition

    case = session.scalar(select(Case).where(Case.number == case_number))
    if case is None:
        raise ValueError(f"no case numbered {case_number!r}")
    complete = resolved is not None and satisfaction is not None
    survey = SurveyResult(
        case_id=case.id,
        callback_id=callback_id,
        resolved=resolved,
        satisfaction=satisfaction,
        method=method,
        raw={**raw, "complete": complete},
        created_at=now,
    )
    session.add(survey)
    session.flush()
    enqueue(
        session,
        STREAM_CALLBACKS,
        "survey.recorded",
        {
            "survey_id": survey.id,
            "case_id": case.id,
            "case_number": case_number,
            "callback_id": callback_id,
            "resolved": resolved,
            "satisfaction": satisfaction,
            "method": method,
            "complete": complete,
            "uniqueid": raw.get("uniqueid"),
        },
    )
    cb = session.get(Callback, callback_id) if callback_id is not None else None
    attempt = cb.attempts if cb is not None else 0
    if not complete:
        status = None
        if cb is not None:
            d = fail_attempt(
                session,
                cb.id,
                attempt,
                policy.Failure.INCOMPLETE,
                now,
                settings.callbacks,
                window_of(settings),
                "survey not answered",
            )
            status = d.status if d else cb.status
        return SurveyOutcome(survey.id, False, "none", status)
    visit = int((cb.outcome or {}).get("visit", 1)) if cb is not None else 1
    decision = policy.decide_survey(resolved, satisfaction, visit, settings.callbacks.survey_policy())
    actor = Actor(Role.SYSTEM)
    evaluated = False
    follow = decision.follow_up
    error: str | None = None
    try:
        # a case the workflow refuses (changed meanwhile, inconsistent data) must not lose the answer
        with session.begin_nested():
            if decision.evaluate and case.status == "closed":
                transition(
                    session,
                    case_number,
                    Command(
                        "evaluate",
                        satisfaction=satisfaction,
                        resolved=resolved,
                        data={"survey_id": survey.id},
                    ),
                    actor,
                    now=now,
                )
                evaluated = True
            if follow is policy.FollowUp.REOPEN and case.status in ("closed", "evaluated"):
                transition(
                    session,
                    case_number,
                    Command("reopen", reason=f"回访: 未解决 (survey {survey.id})"),
                    actor,
                    now=now,
                )
    except (CallCenterError, AssertionError) as exc:
        evaluated = False
        error = f"{type(exc).__name__}: {exc}"
        log.warning("survey %s of case %s not applied to the case: %s", survey.id, case_number, error)
        session.refresh(case)
    if follow is policy.FollowUp.SECOND_VISIT and cb is not None:
        closing = int((cb.outcome or {}).get("closing", 1))
        schedule(
            session,
            kind="return_visit",
            key=return_visit_key(case_number, closing, visit + 1),
            phone=cb.phone,
            at=now + timedelta(seconds=settings.callbacks.second_visit_delay_s),
            requested_at=now,
            max_attempts=settings.callbacks.max_attempts,
            case_id=case.id,
            outcome={"case_number": case_number, "visit": visit + 1, "closing": closing},
        )
    status = None
    if cb is not None:
        complete_attempt(
            session,
            cb.id,
            attempt,
            "survey_complete",
            now,
            survey={
                "survey_id": survey.id,
                "resolved": resolved,
                "satisfaction": satisfaction,
                "method": method,
                "follow_up": str(follow),
                "evaluated": evaluated,
                "error": error,
            },
        )
        status = cb.status
    return SurveyOutcome(survey.id, evaluated, str(follow), status)


# --------------------------------------------------------------------------- listing


def as_dict(cb: Callback) -> dict[str, Any]:
    out = dict(cb.outcome or {})
    return {
        "id": cb.id,
        "kind": cb.kind,
        "status": cb.status,
        "phase": out.get("phase"),
        "phone": cb.phone,
        "case_id": cb.case_id,
        "case_number": out.get("case_number"),
        "visit": out.get("visit"),
        "attempts": cb.attempts,
        "max_attempts": cb.max_attempts,
        "requested_at": _iso(cb.requested_at),
        "next_attempt_at": _iso(cb.next_attempt_at),
        "updated_at": _iso(cb.updated_at),
        "last_result": cb.last_result,
        "survey": out.get("survey"),
        "history": out.get("history", []),
    }


def _iso(dt: datetime | None) -> str | None:
    d = _aware(dt)
    return d.isoformat() if d else None


def list_callbacks(
    session: Session, *, status: str | None = None, kind: str | None = None, limit: int = 200
) -> list[dict[str, Any]]:
    """Callbacks for the console: scheduled / in progress first, then the latest finished ones."""
    q = select(Callback)
    if status:
        q = q.where(Callback.status == status)
    if kind:
        q = q.where(Callback.kind == kind)
    q = q.order_by(Callback.updated_at.desc(), Callback.id.desc()).limit(limit)
    return [as_dict(cb) for cb in session.scalars(q)]
