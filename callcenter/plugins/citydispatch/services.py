"""City platform orders (市级派单): accept a signed order once, and push its progress back in order.

**Inbound.** :func:`accept_order` checks the partner's signature, the timestamp window and the nonce
(stored in ``city_nonces``; a nonce seen before is a replay and refused), then creates the case
through :func:`callcenter.services.intake.create_from_source` (same workflow, suggester and dispatch
rules as a call; channel ``city_dispatch``) with the upstream deadline as ``external_due_at`` — a
dispatch never gives the unit longer. Idempotent on ``(partner, order_id)``: the same order again
(a retry with a new nonce) answers with the first case; the same id with other content is a 409.

**Push-back (回传).** Every status change of such a case is a ``case_events`` row written in the
transaction of the change (with its outbox event). :func:`collect` copies new ones into ``city_pushes``
(unique per order and event seq, so a second collector or a restart adds nothing twice);
:func:`deliver_due` POSTs them, signed, to the partner's callback URL — per order strictly in event
order (a later update waits while an earlier one is pending) — with back-off between attempts
(``intake.city_push_backoff_s``). After ``intake.city_push_max_attempts`` a push is dead (死信): it and
the later pushes of its order wait until a supervisor retries it (``POST /api/city/pushes/{id}/retry``).
Each push carries ``delivery_id`` (= ``partner:order_id:seq``) so the partner can drop a repeat after a
lost reply.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import and_, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from callcenter.config import CityPartner, Settings
from callcenter.db.base import utcnow
from callcenter.db.models import Case, CaseEvent, CityNonce, CityOrder, CityPush
from callcenter.domain import workflow
from callcenter.domain.sources import Source
from callcenter.domain.workflow import Actor, Role
from callcenter.plugins.citydispatch import signing
from callcenter.plugins.citydispatch.exceptions import BadOrder, BadSignature, OrderConflict, Replayed
from callcenter.plugins.citydispatch.schemas import OrderIn
from callcenter.ports import SuggestFn
from callcenter.services import cases as case_svc
from callcenter.services.intake import create_from_source

log = logging.getLogger(__name__)


def authenticate(
    session: Session,
    settings: Settings,
    headers: dict[str, str],
    method: str,
    path: str,
    body: bytes,
    now: datetime | None = None,
) -> tuple[str, CityPartner]:
    """The partner of a signed request; :class:`BadSignature` or :class:`Replayed` otherwise.

    The nonce is stored in the caller's transaction (committed with the order)."""
    now = now or utcnow()
    name = headers.get("x-partner", "")
    partner = settings.intake.city_partners.get(name)
    if partner is None:
        raise BadSignature("unknown partner (X-Partner)")
    ts_raw, nonce = headers.get("x-timestamp", ""), headers.get("x-nonce", "")
    if not ts_raw.isdigit() or len(ts_raw) > 12:
        raise BadSignature("X-Timestamp must be Unix seconds")
    if not signing.NONCE_RE.match(nonce):
        raise BadSignature("X-Nonce must be 8 to 64 characters of A-Z a-z 0-9 _ -")
    window = settings.intake.city_signature_window_s
    if abs(now.timestamp() - int(ts_raw)) > window:
        raise BadSignature(f"X-Timestamp is more than {window} s away from the server's clock")
    if not signing.valid(partner.key, headers, method, path, body):
        raise BadSignature("bad signature (X-Signature)")
    seen = session.scalar(select(CityNonce.id).where(CityNonce.partner == name, CityNonce.nonce == nonce))
    if seen is not None:
        raise Replayed("this request was already received (nonce replayed)")
    session.add(CityNonce(partner=name, nonce=nonce, seen_at=now))
    # nonces older than twice the window can never be accepted again: forget them
    session.execute(delete(CityNonce).where(CityNonce.seen_at < now - timedelta(seconds=2 * window)))
    return name, partner


@dataclass
class Accepted:
    order: CityOrder
    case: Case
    replayed: bool


def _fingerprint(body: dict[str, Any]) -> str:
    return case_svc.request_fingerprint(body)


def _existing(session: Session, partner: str, order_id: str) -> CityOrder | None:
    return session.scalar(
        select(CityOrder).where(CityOrder.partner == partner, CityOrder.upstream_id == order_id)
    )


def _same(session: Session, order: CityOrder, fingerprint: str) -> Accepted:
    if order.fingerprint != fingerprint:
        raise OrderConflict(f"order {order.upstream_id} was already received with different content")
    case = session.get(Case, order.case_id)
    assert case is not None
    return Accepted(order, case, True)


def accept_order(
    session: Session,
    settings: Settings,
    headers: dict[str, str],
    method: str,
    path: str,
    body: bytes,
    suggest_fn: SuggestFn | None,
) -> Accepted:
    """Check, then store one order and its case (committed); the first case again for a retry."""
    partner, _ = authenticate(session, settings, headers, method, path, body)
    try:
        raw = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadOrder("the body must be a JSON object") from exc
    if not isinstance(raw, dict):
        raise BadOrder("the body must be a JSON object")
    from pydantic import ValidationError

    try:
        order_in = OrderIn.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise BadOrder(f"{where}: {first.get('msg')}") from exc
    if order_in.deadline is not None and order_in.deadline.tzinfo is None:
        raise BadOrder("deadline must carry a time zone")
    fingerprint = _fingerprint(raw)
    earlier = _existing(session, partner, order_in.order_id)
    if earlier is not None:
        result = _same(session, earlier, fingerprint)
        session.commit()  # keeps the nonce: the same request again is a replay
        return result
    text = order_in.description if not order_in.title else f"【{order_in.title}】{order_in.description}"
    new = case_svc.NewCase(
        description=text,
        caller_phone=order_in.caller_phone,
        caller_name=order_in.caller_name,
        matter_code=order_in.matter_code,
        district_code=order_in.district_code,
        street_code=order_in.street_code,
        community_code=order_in.community_code,
        address=order_in.address,
        priority=order_in.priority,
        kind=order_in.kind,
        channel=Source.CITY_DISPATCH,
        external_due_at=order_in.deadline.astimezone(UTC) if order_in.deadline else None,
    )
    case, _ = create_from_source(
        session, new, Actor(Role.SYSTEM), suggest_fn=suggest_fn, auto_dispatch=settings.intake.auto_dispatch
    )
    order = CityOrder(
        partner=partner,
        upstream_id=order_in.order_id,
        case_id=case.id,
        fingerprint=fingerprint,
        deadline_at=new.external_due_at,
        payload=raw,
        pushed_seq=0,
    )
    session.add(order)
    try:
        session.commit()
    except IntegrityError:
        # the same order committed by a concurrent request (another nonce) just now
        session.rollback()
        earlier = _existing(session, partner, order_in.order_id)
        if earlier is None:
            raise
        return _same(session, earlier, fingerprint)
    return Accepted(order, case, False)


# --- push-back ------------------------------------------------------------------------------------


def _push_payload(order: CityOrder, case: Case, ev: CaseEvent) -> dict[str, Any]:
    body: dict[str, Any] = {
        "delivery_id": f"{order.partner}:{order.upstream_id}:{ev.seq}",
        "order_id": order.upstream_id,
        "case_number": case.number,
        "seq": ev.seq,
        "action": ev.action,
        "action_label": workflow.ACTION_LABELS.get(ev.action, ev.action),
        "status": ev.to_status,
        "status_label": workflow.STATUS_LABELS.get(ev.to_status, ev.to_status),
        "unit_code": ev.unit_code or case.unit_code,
        "at": ev.created_at.astimezone(UTC).isoformat(),
        "final": ev.to_status in (workflow.Status.CLOSED, workflow.Status.EVALUATED),
    }
    if ev.action in ("feedback", "close", "resolve_on_call", "verify"):
        body["reply"] = case.feedback_text
    if ev.reason:
        body["reason"] = ev.reason
    return body


def collect(session: Session, now: datetime | None = None) -> int:
    """Copy the new status changes of every city order's case into ``city_pushes``; returns the count."""
    now = now or utcnow()
    rows = session.execute(
        select(CityOrder, CaseEvent)
        .join(CaseEvent, and_(CaseEvent.case_id == CityOrder.case_id, CaseEvent.seq > CityOrder.pushed_seq))
        .order_by(CityOrder.id, CaseEvent.seq)
        .limit(2000)
    ).all()
    added = 0
    cases: dict[int, Case] = {}
    for order, ev in rows:
        if ev.from_status != ev.to_status or ev.action == "create":
            case = cases.get(order.case_id) or session.get(Case, order.case_id)
            assert case is not None
            cases[order.case_id] = case
            session.add(
                CityPush(
                    order_id=order.id,
                    case_seq=ev.seq,
                    kind=ev.action,
                    payload=_push_payload(order, case, ev),
                    status="pending",
                    next_attempt_at=now,
                    created_at=now,
                )
            )
            added += 1
        order.pushed_seq = max(order.pushed_seq, ev.seq)
    try:
        session.commit()
    except IntegrityError:  # another collector added the same rows first
        session.rollback()
        return 0
    return added


def _backoff(settings: Settings, attempts: int) -> float:
    steps = settings.intake.city_push_backoff_s or [5.0]
    return float(steps[min(attempts - 1, len(steps) - 1)])


def due_pushes(session: Session, now: datetime, limit: int = 100) -> list[tuple[CityPush, CityOrder]]:
    """The first not-yet-delivered push of each order, when it is pending and due (in-order delivery:
    an order whose first open push is dead or not due yet sends nothing)."""
    first = (
        select(CityPush.order_id, func.min(CityPush.case_seq).label("seq"))
        .where(CityPush.status != "delivered")
        .group_by(CityPush.order_id)
        .subquery()
    )
    q = (
        select(CityPush, CityOrder)
        .join(first, and_(first.c.order_id == CityPush.order_id, first.c.seq == CityPush.case_seq))
        .join(CityOrder, CityOrder.id == CityPush.order_id)
        .where(CityPush.status == "pending", CityPush.next_attempt_at <= now)
        .order_by(CityPush.next_attempt_at, CityPush.id)
        .limit(limit)
    )
    return [tuple(row) for row in session.execute(q).all()]  # type: ignore[misc]


def send(client: httpx.Client, partner_name: str, partner: CityPartner, payload: dict[str, Any]) -> None:
    """POST one push, signed; raises on a network error or a non-2xx answer."""
    if not partner.callback_url:
        raise RuntimeError(f"partner {partner_name} has no callback_url")
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    path = urlsplit(partner.callback_url).path or "/"
    headers = signing.sign_headers("callcenter", partner.key, "POST", path, body)
    headers["X-Delivery-Id"] = str(payload.get("delivery_id", ""))
    r = client.post(partner.callback_url, content=body, headers=headers)
    if not 200 <= r.status_code < 300:
        raise RuntimeError(f"partner answered {r.status_code}")


def deliver_due(
    session: Session, settings: Settings, client: httpx.Client, now: datetime | None = None
) -> int:
    """Send every due push once (one per order per round, so order is kept); returns deliveries."""
    delivered = 0
    while True:
        now = now or utcnow()
        batch = due_pushes(session, now)
        if not batch:
            return delivered
        progressed = False
        for push, order in batch:
            partner = settings.intake.city_partners.get(order.partner)
            push.attempts += 1
            try:
                if partner is None:
                    raise RuntimeError(f"partner {order.partner} is no longer configured")
                send(client, order.partner, partner, push.payload)
            except Exception as exc:  # network down, partner error: retry later
                push.last_error = str(exc)[:500]
                if push.attempts >= settings.intake.city_push_max_attempts:
                    push.status = "dead"
                    log.error(
                        "push-back %s of order %s is dead after %d attempts: %s",
                        push.case_seq,
                        order.upstream_id,
                        push.attempts,
                        exc,
                    )
                else:
                    push.next_attempt_at = utcnow() + timedelta(seconds=_backoff(settings, push.attempts))
            else:
                push.status = "delivered"
                push.delivered_at = utcnow()
                push.last_error = None
                delivered += 1
                progressed = True
            session.commit()
        if not progressed:
            return delivered
        now = None  # the next push of each order is due at once


def retry(session: Session, push_id: int) -> CityPush:
    """Put a dead push back in the queue (a supervisor's decision after the partner is fixed)."""
    from callcenter.exceptions import Conflict, NotFound

    push = session.get(CityPush, push_id)
    if push is None:
        raise NotFound(f"no push-back {push_id}")
    if push.status != "dead":
        raise Conflict(f"push-back {push_id} is {push.status}, not dead")
    push.status = "pending"
    push.attempts = 0
    push.next_attempt_at = utcnow()
    session.commit()
    return push


def list_pushes(
    session: Session, status: str | None, limit: int = 200
) -> list[tuple[CityPush, CityOrder, str]]:
    q = (
        select(CityPush, CityOrder, Case.number)
        .join(CityOrder, CityOrder.id == CityPush.order_id)
        .join(Case, Case.id == CityOrder.case_id)
        .order_by(CityPush.id.desc())
        .limit(limit)
    )
    if status:
        q = q.where(CityPush.status == status)
    return [tuple(row) for row in session.execute(q).all()]  # type: ignore[misc]
