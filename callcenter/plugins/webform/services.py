"""Public intake services: file a case from the web form or an Open311 client, look it up again.

Both create the case through :func:`callcenter.services.intake.create_from_source` (same workflow,
suggester and dispatch rules as a call) as the ``system`` actor, with ``channel`` ``web`` or
``open311``. The citizen gets the case number and a **lookup code** (查询码): 8 characters derived
from the number with the installation's secret (HMAC), so the same number always has the same code —
a retried submission can answer with it again — and only its hash is stored. The status lookup needs
both, and is rate limited per address like the submissions.

A submission token (the form's hidden ``form_token``, an Open311 client's ``Idempotency-Key``) is
stored unique with the receipt: a double click, a reload or a client retry returns the first case
(``replayed``), never a second one.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from callcenter.config import Settings
from callcenter.db.models import Area, Case, Matter, MatterCategory, Unit, WebReceipt
from callcenter.domain import privacy, workflow
from callcenter.domain.sources import Source
from callcenter.domain.workflow import Actor, Role
from callcenter.exceptions import NotFound, PayloadTooLarge
from callcenter.plugins.webform.exceptions import BadSubmission, UnknownService
from callcenter.ports import SuggestFn
from callcenter.services import cases as case_svc
from callcenter.services.intake import create_from_source

#: Lookup code alphabet: no 0/O, 1/I/L (read over the phone or copied from a phone screen).
_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
LOOKUP_LEN = 8


def lookup_code(settings: Settings, number: str) -> str:
    digest = hmac.new(settings.secret_key.encode(), f"lookup:{number}".encode(), hashlib.sha256).digest()
    value = int.from_bytes(digest[:10], "big")
    out = []
    for _ in range(LOOKUP_LEN):
        value, i = divmod(value, len(_ALPHABET))
        out.append(_ALPHABET[i])
    return "".join(out)


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


@dataclass
class Submission:
    """What a citizen (or an Open311 client on their behalf) sends."""

    description: str
    client: str = "web"  # "web" or the Open311 client's name
    channel: str = Source.WEB
    address: str = ""
    district_code: str | None = None
    street_code: str | None = None
    community_code: str | None = None
    service_code: str | None = None
    phone: str | None = None
    name: str | None = None
    kind: str = "request"
    lat: float | None = None
    lon: float | None = None
    media_url: str | None = None
    contact: dict[str, Any] = field(default_factory=dict)
    token: str | None = None  # submission token (dedupe)


@dataclass
class Receipt:
    case: Case
    code: str
    replayed: bool
    receipt: WebReceipt


def _check(sub: Submission, settings: Settings) -> str:
    text = sub.description.strip()
    if not text:
        raise BadSubmission("description is required / 请描述您的诉求")
    limit = settings.intake.web_max_description_chars
    if len(text) > limit:
        raise PayloadTooLarge(f"description is {len(text)} characters; the limit is {limit}")
    if len(sub.address) > case_svc.MAX_ADDRESS:
        raise BadSubmission(f"address longer than {case_svc.MAX_ADDRESS} characters")
    for lat_lon, lo, hi in ((sub.lat, -90, 90), (sub.lon, -180, 180)):
        if lat_lon is not None and not lo <= lat_lon <= hi:
            raise BadSubmission("lat must be within -90..90 and long within -180..180")
    return text


def earlier_receipt(session: Session, token: str | None) -> WebReceipt | None:
    if token is None:
        return None
    return session.scalar(select(WebReceipt).where(WebReceipt.submit_token == token))


def submit(session: Session, settings: Settings, sub: Submission, suggest_fn: SuggestFn | None) -> Receipt:
    """File ``sub`` as a case (committed), or return the case of an earlier submission with its token."""
    text = _check(sub, settings)
    earlier = earlier_receipt(session, sub.token)
    if earlier is not None:
        case = session.get(Case, earlier.case_id)
        assert case is not None
        return Receipt(case, lookup_code(settings, case.number), True, earlier)
    if sub.service_code is not None and session.get(Matter, sub.service_code) is None:
        raise BadSubmission(f"unknown service_code {sub.service_code!r}")
    for code in (sub.district_code, sub.street_code, sub.community_code):
        if code is not None and session.get(Area, code) is None:
            raise BadSubmission(f"unknown area {code!r}")
    new = case_svc.NewCase(
        description=text,
        caller_phone=sub.phone,
        caller_name=sub.name,
        matter_code=sub.service_code,
        district_code=sub.district_code,
        street_code=sub.street_code,
        community_code=sub.community_code,
        address=sub.address,
        kind=sub.kind,
        channel=sub.channel,
    )
    case, _ = create_from_source(
        session,
        new,
        Actor(Role.SYSTEM),
        suggest_fn=suggest_fn,
        auto_dispatch=settings.intake.auto_dispatch,
    )
    code = lookup_code(settings, case.number)
    receipt = WebReceipt(
        case_id=case.id,
        client=sub.client,
        lookup_hash=_hash(code),
        submit_token=sub.token,
        service_code=sub.service_code,
        lat=sub.lat,
        lon=sub.lon,
        address_string=sub.address or None,
        media_url=sub.media_url,
        contact=sub.contact,
    )
    session.add(receipt)
    try:
        session.commit()
    except IntegrityError:
        # the same token committed by a concurrent request just now: answer with its case
        session.rollback()
        earlier = earlier_receipt(session, sub.token)
        if earlier is None:
            raise
        case = session.get(Case, earlier.case_id)
        assert case is not None
        return Receipt(case, lookup_code(settings, case.number), True, earlier)
    return Receipt(case, code, False, receipt)


def lookup(session: Session, settings: Settings, number: str, code: str) -> Case:
    """The case ``number`` if ``code`` is its lookup code (404 for a wrong pair: reveals nothing)."""
    case = session.scalar(select(Case).where(Case.number == number))
    if case is None or not hmac.compare_digest(
        lookup_code(settings, number).encode(), code.strip().upper().encode()
    ):
        raise NotFound("no case with this number and lookup code / 工单号或查询码不正确")
    return case


def public_status(session: Session, case: Case) -> dict[str, Any]:
    """What the citizen sees of their case: status, dates, the unit's reply (numbers masked)."""
    return {
        "number": case.number,
        "status": case.status,
        "status_label": workflow.STATUS_LABELS.get(case.status, case.status),
        "open": case.status in workflow.OPEN_STATUSES,
        "channel": case.channel,
        "created_at": case.created_at.isoformat(),
        "updated_at": case.updated_at.isoformat(),
        "closed_at": case.closed_at.isoformat() if case.closed_at else None,
        "reply": privacy.mask_numbers(case.feedback_text) if case.status in CLOSED_LIKE else None,
        "unit_name": _unit_name(session, case.unit_code),
    }


CLOSED_LIKE = frozenset({workflow.Status.CLOSED, workflow.Status.EVALUATED, workflow.Status.VERIFIED})


def _unit_name(session: Session, code: str | None) -> str | None:
    if code is None:
        return None
    return session.scalar(select(Unit.name).where(Unit.code == code))


# --- Open311 GeoReport v2 -------------------------------------------------------------------------


def open311_services(session: Session) -> list[dict[str, Any]]:
    """Every active matter of the catalogue as an Open311 service (``service_code`` = matter code)."""
    groups = {c.code: c.name for c in session.scalars(select(MatterCategory))}
    rows = session.scalars(select(Matter).where(Matter.active.is_(True)).order_by(Matter.code))
    return [
        {
            "service_code": m.code,
            "service_name": m.name,
            "description": m.description or m.name,
            "metadata": False,
            "type": "realtime",
            "keywords": ", ".join(m.keywords or []),
            "group": groups.get(m.category_code, m.category_code),
        }
        for m in rows
    ]


def open311_definition(session: Session, code: str) -> dict[str, Any]:
    matter = session.get(Matter, code)
    if matter is None or not matter.active:
        raise UnknownService(f"service_code {code!r} not found")
    return {"service_code": matter.code, "attributes": []}


def _iso(value: datetime | None, settings: Settings) -> str | None:
    if value is None:
        return None
    from zoneinfo import ZoneInfo

    return value.astimezone(ZoneInfo(settings.timezone)).isoformat(timespec="seconds")


def open311_request(
    session: Session, settings: Settings, case: Case, receipt: WebReceipt | None
) -> dict[str, Any]:
    """A case as an Open311 service request (the spec's fields, in the spec's order)."""
    matter = session.get(Matter, case.matter_code) if case.matter_code else None
    closed = case.status not in workflow.OPEN_STATUSES
    notes = workflow.STATUS_LABELS.get(case.status, case.status)
    if closed and case.feedback_text:
        notes = f"{notes}：{privacy.mask_numbers(case.feedback_text)}"
    return {
        "service_request_id": case.number,
        "status": "closed" if closed else "open",
        "status_notes": notes,
        "service_name": matter.name if matter else None,
        "service_code": case.matter_code or (receipt.service_code if receipt else None),
        "description": privacy.mask_numbers(case.description),
        "agency_responsible": _unit_name(session, case.unit_code),
        "service_notice": None,
        "requested_datetime": _iso(case.created_at, settings),
        "updated_datetime": _iso(case.updated_at, settings),
        "expected_datetime": _iso(case.due_at, settings),
        "address": privacy.mask_numbers(case.address) or None,
        "address_id": None,
        "zipcode": None,
        "lat": receipt.lat if receipt else None,
        "long": receipt.lon if receipt else None,
        "media_url": receipt.media_url if receipt else None,
    }


#: Channels whose requests the public Open311 GET lists (a hotline call is not published).
PUBLIC_CHANNELS = (Source.WEB, Source.OPEN311)


def open311_find(
    session: Session,
    *,
    ids: list[str] | None = None,
    service_code: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    status: str | None = None,
    limit: int = 1000,
) -> list[tuple[Case, WebReceipt]]:
    q = (
        select(Case, WebReceipt)
        .join(WebReceipt, WebReceipt.case_id == Case.id)
        .where(Case.channel.in_([str(c) for c in PUBLIC_CHANNELS]))
    )
    if ids:
        q = q.where(Case.number.in_(ids))
    if service_code:
        q = q.where(Case.matter_code == service_code)
    if start:
        q = q.where(Case.created_at >= start)
    if end:
        q = q.where(Case.created_at <= end)
    if status == "open":
        q = q.where(Case.status.in_([str(s) for s in workflow.OPEN_STATUSES]))
    elif status == "closed":
        q = q.where(Case.status.not_in([str(s) for s in workflow.OPEN_STATUSES]))
    rows = session.execute(q.order_by(Case.created_at.desc(), Case.id.desc()).limit(limit))
    return [(c, r) for c, r in rows.all()]
