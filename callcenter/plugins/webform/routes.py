"""Routes of the public intake: the web form page and its API, the status lookup, Open311 GeoReport v2.

No login on any of them. Every submission is rate limited per client address (``intake.web_rate_limit``
per ``intake.web_rate_window_s``; Open311 POSTs per client and address), the form has a honeypot
field, bodies are bounded by the kernel's request guard and the fields by their own limits.
"""

from __future__ import annotations

import hmac
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

import redis
from fastapi import APIRouter, Header, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from callcenter.api.deps import SessionDep, client_address
from callcenter.config import Settings
from callcenter.db.models import WebReceipt
from callcenter.db.session import get_sessionmaker
from callcenter.domain import workflow
from callcenter.domain.sources import Source
from callcenter.events import redis_client
from callcenter.exceptions import CallCenterError
from callcenter.plugins.webform import open311, ratelimit
from callcenter.plugins.webform import services as svc
from callcenter.plugins.webform.exceptions import BadSubmission, InvalidApiKey, RateLimited, UnknownService
from callcenter.plugins.webform.schemas import LookupOut, WebCaseIn, WebCaseOut
from callcenter.services.intake import suggester_for

STATIC = Path(__file__).parent / "static"

router = APIRouter(tags=["public intake"])


@lru_cache(maxsize=8)
def _redis(url: str) -> redis.Redis:
    return redis_client(url)


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _address(request: Request) -> str:
    return client_address(request) or "unknown"


def _limit(request: Request, scope: str, limit: int, window_s: int) -> None:
    """Count one request of this address; a 429 with ``Retry-After`` past the limit."""
    try:
        ratelimit.hit(_redis(_settings(request).redis_url), scope, _address(request), limit, window_s)
    except RateLimited as exc:
        raise HTTPException(429, exc.message, {"Retry-After": str(exc.retry_after)}) from exc


def _notify(request: Request) -> None:
    relay = getattr(request.app.state, "relay", None)
    if relay is not None:
        relay.notify()


@router.get("/report", response_class=HTMLResponse, include_in_schema=False)
def report_page() -> HTMLResponse:
    """网站填报: the public form (Chinese, works on a phone)."""
    return HTMLResponse((STATIC / "report.html").read_text(encoding="utf-8"))


@router.post("/api/public/cases", response_model=WebCaseOut, status_code=201)
def submit_web(body: WebCaseIn, request: Request, session: SessionDep) -> Any:
    settings = _settings(request)
    if body.website:
        raise BadSubmission("form field 'website' must be left empty / 表单校验失败")
    token = f"web:{body.form_token}" if body.form_token else None
    if token is None or svc.earlier_receipt(session, token) is None:
        _limit(request, "web", settings.intake.web_rate_limit, settings.intake.web_rate_window_s)
    sub = svc.Submission(
        description=body.description,
        address=body.address,
        district_code=body.district_code,
        street_code=body.street_code,
        community_code=body.community_code,
        phone=body.phone,
        name=body.name,
        kind=body.kind,
        token=token,
    )
    r = svc.submit(session, settings, sub, suggester_for(settings))
    _notify(request)
    out = WebCaseOut(
        number=r.case.number,
        lookup_code=r.code,
        status=r.case.status,
        status_label=workflow.STATUS_LABELS.get(r.case.status, r.case.status),
        replayed=r.replayed,
    )
    return JSONResponse(out.model_dump(), status_code=200 if r.replayed else 201)


@router.get("/api/public/cases/{number}", response_model=LookupOut)
def lookup_case(
    number: str,
    code: Annotated[str, Query(min_length=1, max_length=16)],
    request: Request,
    session: SessionDep,
) -> LookupOut:
    settings = _settings(request)
    _limit(request, "lookup", settings.intake.lookup_rate_limit, settings.intake.web_rate_window_s)
    case = svc.lookup(session, settings, number[:20], code)
    return LookupOut(**svc.public_status(session, case))


# --- Open311 GeoReport v2 -------------------------------------------------------------------------

O311 = "/open311/v2"


def _fmt(fmt: str) -> str:
    if fmt not in open311.FORMATS:
        raise _O311Error(404, f"format {fmt[:10]!r} not supported: use .json or .xml", "json")
    return fmt


class _O311Error(Exception):
    def __init__(self, code: int, description: str, fmt: str, headers: dict[str, str] | None = None):
        super().__init__(description)
        self.code, self.description, self.fmt, self.headers = code, description, fmt, headers


def _guard(fmt: str, work: Any) -> Response:
    try:
        return work()
    except _O311Error as exc:
        return open311.error(exc.fmt, exc.code, exc.description, exc.headers)
    except RateLimited as exc:
        return open311.error(fmt, 429, exc.message, {"Retry-After": str(exc.retry_after)})
    except CallCenterError as exc:
        return open311.error(fmt, exc.status_code, exc.message)


def _jurisdiction(settings: Settings, value: str | None, fmt: str) -> None:
    wanted = settings.intake.open311_jurisdiction
    if wanted and value and value != wanted:
        raise _O311Error(404, f"jurisdiction_id {value[:40]!r} not found", fmt)


@router.get(O311 + "/discovery.{fmt}", include_in_schema=False)
def discovery(fmt: str, request: Request) -> Response:
    def work() -> Response:
        f = _fmt(fmt)
        base = str(request.base_url).rstrip("/") + O311 + "/"
        data = {
            "changeset": "2026-12-02T00:00:00+08:00",
            "contact": "12345 热线",
            "key_service": "",
            "endpoints": [
                {
                    "specification": "http://wiki.open311.org/GeoReport_v2",
                    "url": base,
                    "changeset": "2026-12-02T00:00:00+08:00",
                    "type": "production",
                    "formats": ["text/xml", "application/json"],
                }
            ],
        }
        if f == "xml":
            return open311.render(
                "xml", "discovery", None, {k: v for k, v in data.items() if k != "endpoints"}
            )
        return open311.render("json", "discovery", None, data)

    return _guard(fmt, work)


@router.get(O311 + "/services.{fmt}")
def services(fmt: str, request: Request, session: SessionDep, jurisdiction_id: str | None = None) -> Response:
    """GET Service List."""

    def work() -> Response:
        f = _fmt(fmt)
        _jurisdiction(_settings(request), jurisdiction_id, f)
        return open311.render(f, "services", "service", svc.open311_services(session))

    return _guard(fmt, work)


@router.get(O311 + "/services/{code}.{fmt}")
def service_definition(
    code: str, fmt: str, request: Request, session: SessionDep, jurisdiction_id: str | None = None
) -> Response:
    """GET Service Definition (our services have no extra attributes: ``metadata`` is false)."""

    def work() -> Response:
        f = _fmt(fmt)
        _jurisdiction(_settings(request), jurisdiction_id, f)
        return open311.render(f, "service_definition", None, svc.open311_definition(session, code[:16]))

    return _guard(fmt, work)


def _float(form: dict[str, str], name: str, f: str) -> float | None:
    raw = form.get(name)
    if raw is None or raw == "":
        return None
    try:
        return float(raw)
    except ValueError as exc:
        raise _O311Error(400, f"{name} must be a number", f) from exc


_O311_LIMITS = {
    "description": 20_000,
    "address_string": 256,
    "email": 128,
    "first_name": 64,
    "last_name": 64,
    "phone": 32,
    "device_id": 128,
    "account_id": 128,
    "media_url": 512,
    "service_code": 16,
    "api_key": 128,
    "jurisdiction_id": 64,
    "address_id": 64,
}


@router.post(O311 + "/requests.{fmt}", status_code=201)
async def post_request(
    fmt: str,
    request: Request,
    idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
) -> Response:
    """POST Service Request (form-encoded, as the spec says) with an ``api_key``."""
    settings = _settings(request)
    try:
        form_data = await request.form()
    except Exception:
        return open311.error(fmt, 400, "the body must be application/x-www-form-urlencoded")
    form = {k: v for k, v in form_data.items() if isinstance(v, str)}

    def work() -> Response:
        f = _fmt(fmt)
        for name, limit in _O311_LIMITS.items():
            if len(form.get(name, "")) > limit:
                raise _O311Error(400, f"{name} is longer than {limit} characters", f)
        client = None
        given = form.get("api_key", "")
        for name, key in settings.intake.open311_api_keys.items():
            if given and hmac.compare_digest(key.encode(), given.encode()):
                client = name
        if client is None:
            raise InvalidApiKey("Invalid api_key received -- can't proceed with create_request.")
        _jurisdiction(settings, form.get("jurisdiction_id"), f)
        code = form.get("service_code", "").strip()
        if not code:
            raise _O311Error(400, "service_code is required", f)
        lat, lon = _float(form, "lat", f), _float(form, "long", f)
        address = form.get("address_string", "").strip()
        if (lat is None or lon is None) and not address and not form.get("address_id"):
            raise _O311Error(400, "a location is required: lat and long, address_string or address_id", f)
        session = get_sessionmaker(settings.database_url)()
        try:
            from callcenter.db.models import Matter

            matter = session.get(Matter, code)
            if matter is None or not matter.active:
                raise _O311Error(400, f"service_code {code!r} not found", f)
            token = f"o311:{client}:{idempotency_key}" if idempotency_key else None
            if token is None or svc.earlier_receipt(session, token) is None:
                ratelimit.hit(
                    _redis(settings.redis_url),
                    f"o311:{client}",
                    _address(request),
                    settings.intake.web_rate_limit,
                    settings.intake.web_rate_window_s,
                )
            description = form.get("description", "").strip() or matter.name
            contact = {
                k: form[k]
                for k in ("email", "first_name", "last_name", "device_id", "account_id")
                if form.get(k)
            }
            full_name = " ".join(p for p in (form.get("last_name"), form.get("first_name")) if p) or None
            phone = form.get("phone") or None
            if phone is not None and not all(c.isdigit() or c in "+-" for c in phone):
                raise _O311Error(400, "phone must hold digits, + and - only", f)
            sub = svc.Submission(
                description=description,
                client=client,
                channel=Source.OPEN311,
                address=address,
                service_code=code,
                phone=phone,
                name=full_name,
                lat=lat,
                lon=lon,
                media_url=form.get("media_url") or None,
                contact=contact,
                token=token,
            )
            r = svc.submit(session, settings, sub, suggester_for(settings))
            _notify(request)
            body = [
                {
                    "service_request_id": r.case.number,
                    "service_notice": f"查询码 lookup code: {r.code}",
                    "account_id": form.get("account_id") or None,
                }
            ]
            return open311.render(f, "service_requests", "request", body, 200 if r.replayed else 201)
        finally:
            session.close()

    return await run_in_threadpool(_guard, fmt, work)


def _date(value: str | None, name: str, f: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise _O311Error(400, f"{name} must be a W3C date-time (e.g. 2010-01-01T00:00:00Z)", f) from exc
    if parsed.tzinfo is None:
        raise _O311Error(400, f"{name} must carry a time zone (Z or ±HH:MM)", f)
    return parsed


@router.get(O311 + "/requests.{fmt}")
def get_requests(
    fmt: str,
    request: Request,
    session: SessionDep,
    service_request_id: Annotated[str | None, Query(max_length=2000)] = None,
    service_code: Annotated[str | None, Query(max_length=16)] = None,
    start_date: Annotated[str | None, Query(max_length=40)] = None,
    end_date: Annotated[str | None, Query(max_length=40)] = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
    jurisdiction_id: str | None = None,
) -> Response:
    """GET Service Requests (web and Open311 requests only; hotline calls are not published)."""

    def work() -> Response:
        f = _fmt(fmt)
        settings = _settings(request)
        _jurisdiction(settings, jurisdiction_id, f)
        if status not in (None, "", "open", "closed"):
            raise _O311Error(400, "status must be open or closed", f)
        ids = [i.strip() for i in service_request_id.split(",") if i.strip()] if service_request_id else None
        start, end = _date(start_date, "start_date", f), _date(end_date, "end_date", f)
        if ids is None and start is None and end is None:
            from datetime import timedelta

            from callcenter.db.base import utcnow

            start = utcnow() - timedelta(days=90)  # the spec's default window
        rows = svc.open311_find(
            session, ids=ids, service_code=service_code, start=start, end=end, status=status or None
        )
        data = [svc.open311_request(session, settings, c, r) for c, r in rows]
        return open311.render(f, "service_requests", "request", data)

    return _guard(fmt, work)


@router.get(O311 + "/requests/{request_id}.{fmt}")
def get_request(
    request_id: str, fmt: str, request: Request, session: SessionDep, jurisdiction_id: str | None = None
) -> Response:
    """GET Service Request (a list of one, as the spec shows)."""

    def work() -> Response:
        f = _fmt(fmt)
        settings = _settings(request)
        _jurisdiction(settings, jurisdiction_id, f)
        rows = svc.open311_find(session, ids=[request_id[:20]])
        if not rows:
            raise UnknownService(f"service_request_id {request_id[:20]!r} not found")
        c, r = rows[0]
        return open311.render(
            f, "service_requests", "request", [svc.open311_request(session, settings, c, r)]
        )

    return _guard(fmt, work)


__all__ = ["WebReceipt", "router"]
