"""The FastAPI application: kernel routes (login, health, metrics), every plugin's routers and mounts,
error mapping, outbox relay."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from callcenter import __version__, registry
from callcenter.api.routes import auth
from callcenter.config import Settings, get_settings
from callcenter.db.session import get_engine, get_sessionmaker
from callcenter.events import OutboxRelay, redis_client
from callcenter.exceptions import CallCenterError
from callcenter.metrics import Metrics

log = logging.getLogger(__name__)

#: Requests larger than this are refused with 413 before they are parsed.
MAX_BODY_BYTES = 1_000_000


def create_app(settings: Settings | None = None, *, start_relay: bool = True) -> FastAPI:
    settings = settings or get_settings()

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

    app = FastAPI(
        title="12345 / 96010 hotline contact center",
        version=__version__,
        lifespan=lifespan,
        description="Closed-loop case handling (接诉即办) for citizen service hotlines.",
    )
    app.state.settings = settings
    app.state.relay = None

    @app.middleware("http")
    async def limit_body(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > MAX_BODY_BYTES:
            return JSONResponse({"detail": f"request body over {MAX_BODY_BYTES} bytes"}, status_code=413)
        return await call_next(request)

    @app.exception_handler(CallCenterError)
    async def on_error(_: Request, exc: CallCenterError) -> JSONResponse:
        return JSONResponse({"detail": exc.message}, status_code=exc.status_code)

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
