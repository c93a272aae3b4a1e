"""What every service's ASGI app shares: problem+json errors, /healthz and /readyz, the Kafka
broker started and drained with the app, AsyncAPI docs at /asyncapi, the token verifier and
logging setup, and Prometheus metrics at /metrics.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI
from faststream_fastapi import AsyncAPIConfig, FastStreamAPI

from shared.http.problems import install_problem_handlers
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
) -> ServiceApp:
    configure_logging(service, settings.effective_log_format, settings.log_level)
    # Interactive docs are for development; production does not advertise its surface.
    docs = settings.environment == "development"
    app = FastAPI(
        title=title,
        description=description,
        version="1.0.0",
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
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
    app.include_router(metrics_router(metrics))
    app.add_middleware(HttpMetricsMiddleware, metrics=metrics)
    for router in routers:
        app.include_router(router)
    asgi = FastStreamAPI(
        broker,
        application=app,
        specification=AsyncAPI(broker, title=title, version="1.0.0", description=description),
        asyncapi_path=AsyncAPIConfig("/asyncapi", include_in_schema=True) if docs else None,
        safe_connection=True,  # no Kafka at start: fail, so the supervisor restarts us
    )
    return ServiceApp(asgi=asgi, http=app, broker=broker, metrics=metrics)
