"""The FastAPI application: kernel routes (login, health, metrics), every plugin's routers and mounts,
error mapping, outbox relay.

Layers from the outside in: :class:`callcenter.api.guards.RequestGuard` (body size on received bytes,
strict UTF-8 text; before anything else), FastAPI's error middleware, the metrics middleware, routing
and authentication. Bad input never becomes a 500: validation errors answer 422 with a short excerpt
of the input (never the whole of it), and values the database cannot hold (an integer out of range,
text it cannot encode) answer 422 through the handlers below, whichever route — kernel or plugin —
they reached.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp

from callcenter import __version__, registry
from callcenter.api.guards import RequestGuard
from callcenter.api.routes import auth
from callcenter.config import Settings, get_settings
from callcenter.db.session import get_engine, get_sessionmaker
from callcenter.events import OutboxRelay, redis_client
from callcenter.exceptions import CallCenterError
from callcenter.metrics import Metrics
from callcenter.observability import install_access_log_redaction

log = logging.getLogger(__name__)

#: Longest excerpt of a rejected input value (or of a context value) echoed in a 422.
EXCERPT_CHARS = 80
#: Longest error message (``detail`` text) of any 4xx: messages that quote input are cut here.
MAX_DETAIL_CHARS = 300


class CallCenterAPI(FastAPI):
    """FastAPI with the request guard outside every other layer (also outside the 500 handler)."""

    guard_max_body_bytes: int = 1_000_000
    #: Larger body limits for upload routes (path prefix → bytes); a plugin's ``mount`` adds its own.
    guard_path_limits: dict[str, int]

    def build_middleware_stack(self) -> ASGIApp:
        limits = getattr(self, "guard_path_limits", {})
        return RequestGuard(super().build_middleware_stack(), self.guard_max_body_bytes, limits)


def excerpt(value: Any, limit: int = EXCERPT_CHARS) -> Any:
    """A short, JSON-safe rendering of ``value``: small scalars as they are, anything else as text cut
    to ``limit`` characters (surrogates replaced, so the answer itself can always be encoded)."""
    if value is None or isinstance(value, bool) or (isinstance(value, float) and abs(value) < 1e300):
        return value
    if isinstance(value, int) and abs(value) < 10**15:
        return value
    if isinstance(value, bytes):
        text_ = value[: limit * 4].decode("utf-8", "replace")
    elif isinstance(value, str):
        text_ = value[: limit + 1]
    elif isinstance(value, dict | list | tuple):
        text_ = json.dumps(value, ensure_ascii=False, default=str)[: limit + 1]
    else:
        text_ = str(value)[: limit + 1]
    text_ = text_.encode("utf-8", "replace").decode("utf-8")
    return text_ if len(text_) <= limit else text_[:limit] + "…"


def validation_errors(errors: Any) -> list[dict[str, Any]]:
    """FastAPI's validation errors without the bulk: ``input`` cut to an excerpt, ``ctx`` reduced to
    short scalar values, no documentation ``url``."""
    out: list[dict[str, Any]] = []
    for err in list(errors)[:20]:
        item: dict[str, Any] = {
            "type": excerpt(err.get("type")),
            "loc": [excerpt(part) for part in err.get("loc", ())][:10],
            "msg": excerpt(err.get("msg", ""), 200),
        }
        if "input" in err:
            item["input"] = excerpt(err["input"])
        ctx = err.get("ctx")
        if isinstance(ctx, dict):
            item["ctx"] = {
                excerpt(k): excerpt(v if isinstance(v, str | int | float | bool) else str(v))
                for k, v in list(ctx.items())[:5]
            }
        out.append(item)
    return out


def create_app(settings: Settings | None = None, *, start_relay: bool = True) -> FastAPI:
    settings = settings or get_settings()
    install_access_log_redaction()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        relay = None
        if start_relay:
            relay = OutboxRelay(get_sessionmaker(settings.database_url), redis_client(settings.redis_url))
            relay.start()
            app.state.relay = relay
        try:
            yield
        finally:
            if relay is not None:
                relay.stop()

    app = CallCenterAPI(
        title="12345 / 96010 hotline contact center",
        version=__version__,
        lifespan=lifespan,
        description="Closed-loop case handling (接诉即办) for citizen service hotlines.",
    )
    app.guard_max_body_bytes = settings.security.max_body_bytes
    app.guard_path_limits = {}
    app.state.settings = settings
    app.state.relay = None

    @app.exception_handler(CallCenterError)
    async def on_error(_: Request, exc: CallCenterError) -> JSONResponse:
        return JSONResponse({"detail": excerpt(exc.message, MAX_DETAIL_CHARS)}, status_code=exc.status_code)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if isinstance(exc.detail, str) and len(exc.detail) > MAX_DETAIL_CHARS:  # e.g. a 404 quoting the path
            exc = StarletteHTTPException(exc.status_code, excerpt(exc.detail, MAX_DETAIL_CHARS), exc.headers)
        return await http_exception_handler(request, exc)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": validation_errors(exc.errors())}, status_code=422)

    # Values the database cannot hold, whichever route let them through: 422, never 500.
    @app.exception_handler(sa_exc.DataError)
    async def on_data_error(request: Request, exc: sa_exc.DataError) -> JSONResponse:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else "data error"
        log.warning("%s %s: database refused a value: %s", request.method, request.url.path, reason)
        return JSONResponse(
            {"detail": f"a value in the request cannot be stored: {excerpt(reason, 200)}"}, status_code=422
        )

    @app.exception_handler(OverflowError)
    async def on_overflow(request: Request, exc: OverflowError) -> JSONResponse:
        log.warning("%s %s: number out of range: %s", request.method, request.url.path, exc, exc_info=exc)
        return JSONResponse({"detail": "a number in the request is out of range"}, status_code=422)

    @app.exception_handler(UnicodeEncodeError)
    async def on_unencodable(request: Request, exc: UnicodeEncodeError) -> JSONResponse:
        log.warning("%s %s: text cannot be encoded: %s", request.method, request.url.path, exc, exc_info=exc)
        return JSONResponse({"detail": "text in the request cannot be encoded as UTF-8"}, status_code=422)

    app.include_router(auth.router)
    for plugin in registry.plugins():
        if plugin.routers is not None:
            for router in plugin.routers(settings):
                app.include_router(router)

    metrics = Metrics(settings.database_url)
    app.state.metrics = metrics

    @app.middleware("http")
    async def measure(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        metrics.requests.labels(request.method, template, str(response.status_code)).inc()
        metrics.latency.labels(request.method, template).observe(time.perf_counter() - started)
        return response

    @app.get("/metrics", tags=["ops"], include_in_schema=False)
    def prometheus_metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"])
    def readyz() -> JSONResponse:
        checks: dict[str, str] = {}
        try:
            with get_engine(settings.database_url).connect() as conn:
                conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:  # report, do not raise
            checks["database"] = f"error: {exc.__class__.__name__}"
        try:
            redis_client(settings.redis_url).ping()
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"error: {exc.__class__.__name__}"
        ok = checks["database"] == "ok"  # Redis down degrades live updates only
        return JSONResponse({"ready": ok, "checks": checks}, status_code=200 if ok else 503)

    for plugin in registry.plugins():
        if plugin.mount is not None:
            plugin.mount(app, settings)
    return app
