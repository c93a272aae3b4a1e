"""What every service's ASGI app shares: problem+json errors, /healthz and /readyz, the Kafka
broker started and drained with the app, AsyncAPI docs at /asyncapi, the token verifier and
logging setup, and Prometheus metrics at /metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI
from faststream_fastapi import FastStreamAPI

from shared.http.docs import docs_routers
from shared.http.framing import RequestFramingMiddleware
from shared.http.limits import BodyCap, BodyLimitMiddleware
from shared.http.problems import install_problem_handlers
from shared.http.security_headers import SecurityHeadersMiddleware
from shared.http.timeouts import BodyReadTimeoutMiddleware, set_header_timeout
from shared.logging import configure_logging
from shared.metrics import HttpMetricsMiddleware, ServiceMetrics, metrics_router
from shared.settings import ServiceSettings
from shared.tokens import TokenVerifier

ReadinessCheck = Callable[[], Awaitable[bool]]
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def health_router(checks: Mapping[str, ReadinessCheck]) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/readyz",
        summary="Readiness: every dependency answers",
        responses={503: {"description": "A dependency is down"}},
    )
    async def readyz() -> JSONResponse:
        results = {name: await check() for name, check in checks.items()}
        ready = all(results.values())
        return JSONResponse(
            {"status": "ready" if ready else "unavailable", "checks": results},
            status_code=200 if ready else 503,
        )

    return router


def kafka_is_ready(broker: KafkaBroker) -> ReadinessCheck:
    async def check() -> bool:
        try:
            return bool(await broker.ping(timeout=2.0))
        except Exception:
            return False

    return check


def service_lifespan(
    *,
    setup: Sequence[Callable[[], Awaitable[object]]] = (),
    background: Sequence[Callable[[], Coroutine[Any, Any, None]]] = (),
    close: Sequence[Callable[[], Awaitable[object]]] = (),
) -> Lifespan:
    """What a service does around serving: `setup` in order (indexes), `background` loops
    (a relay, retries) while it serves, cancelled on shutdown, then `close` (its clients)."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        for step in setup:
            await step()
        tasks = [asyncio.create_task(loop()) for loop in background]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            for step in close:
                await step()

    return lifespan


@dataclass(frozen=True)
class ServiceApp:
    """A built service: the ASGI app uvicorn serves, the FastAPI app inside, the broker."""

    asgi: FastStreamAPI
    http: FastAPI
    broker: KafkaBroker
    metrics: ServiceMetrics


def build_app(
    *,
    service: str,
    title: str,
    description: str,
    settings: ServiceSettings,
    broker: KafkaBroker,
    readiness: Mapping[str, ReadinessCheck],
    lifespan: Lifespan | None = None,
    routers: tuple[APIRouter, ...] = (),
    metrics: ServiceMetrics | None = None,
    body_cap: BodyCap | None = None,  # default: settings.max_body_bytes on every route
) -> ServiceApp:
    configure_logging(service, settings.effective_log_format, settings.log_level)
    # Interactive docs are for development; production does not advertise its surface.
    docs = settings.environment == "development"
    app = FastAPI(
        title=title,
        description=description,
        version="1.0.0",
        lifespan=lifespan,
        docs_url=None,  # served by shared.http.docs, with no CDN
        redoc_url=None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.settings = settings
    app.state.token_verifier = TokenVerifier.from_settings(settings)
    install_problem_handlers(app)
    app.include_router(health_router(readiness))
    # The broker's own middlewares come from create_broker(metrics=...); lag is read here.
    metrics = metrics or ServiceMetrics(service)
    metrics.watch_lag(broker)
    if settings.metrics_enabled:
        app.include_router(metrics_router(metrics, settings.metrics_token))
    app.add_middleware(HttpMetricsMiddleware, metrics=metrics)
    for router in routers:
        app.include_router(router)
    # What one client may cost us, outermost last (shared/http/*.py say why each is there).
    set_header_timeout(settings.http_header_timeout_seconds)  # read by server.GuardedH11Protocol
    app.add_middleware(BodyReadTimeoutMiddleware, seconds=settings.http_body_timeout_seconds)
    app.add_middleware(BodyLimitMiddleware, cap_for=body_cap or (lambda _: settings.max_body_bytes))
    app.add_middleware(RequestFramingMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    asgi = FastStreamAPI(
        broker,
        application=app,
        specification=AsyncAPI(broker, title=title, version="1.0.0", description=description),
        asyncapi_path=None,  # its page loads a CDN and adds POST /asyncapi/try: see below
        safe_connection=True,  # no Kafka at start: fail, so the supervisor restarts us
    )
    if docs:
        for docs_router in docs_routers(
            title=title,
            openapi_url="/openapi.json",
            specification=asgi.schema,
            swagger_ui_parameters=app.swagger_ui_parameters,
        ):
            app.include_router(docs_router)
    return ServiceApp(asgi=asgi, http=app, broker=broker, metrics=metrics)
