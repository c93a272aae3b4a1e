"""The HTTP guards of shared.http in memory: framing refused, headers added, metrics labels
bounded, /metrics behind its token, and the settings production insists on. The same guards
are exercised on the wire, against the four services, in tests/security/test_http_*.py."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr, ValidationError

from shared.http.framing import framing_error
from shared.http.problems import install_problem_handlers
from shared.http.security_headers import SecurityHeadersMiddleware
from shared.metrics import HttpMetricsMiddleware, ServiceMetrics, metrics_router
from shared.settings import ServiceSettings

pytestmark = pytest.mark.unit

STRONG = "s" * 48
TOKEN = "t" * 40


@pytest.mark.parametrize(
    ("headers", "refused"),
    [
        pytest.param([(b"content-length", b"5")], False, id="length"),
        pytest.param([(b"transfer-encoding", b"chunked")], False, id="chunked"),
        pytest.param([(b"content-length", b"5"), (b"content-length", b"5")], False, id="same"),
        pytest.param([], False, id="none"),
        pytest.param(
            [(b"content-length", b"5"), (b"transfer-encoding", b"chunked")], True, id="both"
        ),
        pytest.param([(b"transfer-encoding", b"gzip, chunked")], True, id="gzip"),
        pytest.param([(b"transfer-encoding", b"identity")], True, id="identity"),
        pytest.param(
            [(b"transfer-encoding", b"chunked"), (b"transfer-encoding", b"chunked")],
            True,
            id="chunked-twice",
        ),
        pytest.param([(b"content-length", b"5"), (b"content-length", b"6")], True, id="two"),
        pytest.param([(b"content-length", b"5, 6")], True, id="list"),
        pytest.param([(b"content-length", b"-1")], True, id="negative"),
    ],
)
def test_framing_is_refused_when_the_body_could_end_in_two_places(
    headers: list[tuple[bytes, bytes]], refused: bool
) -> None:
    assert (framing_error(headers) is not None) is refused


def _app(metrics: ServiceMetrics, token: str | None = None) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/v1/me")
    async def me() -> dict[str, str]:
        return {"account": "acc-1001"}

    app.include_router(metrics_router(metrics, SecretStr(token) if token else None))
    app.add_middleware(HttpMetricsMiddleware, metrics=metrics)
    app.add_middleware(SecurityHeadersMiddleware)
    return app


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_made_up_methods_are_counted_as_other() -> None:
    metrics = ServiceMetrics("unit")
    async with _client(_app(metrics)) as client:
        for n in range(50):
            await client.request(f"M{n}", "/v1/me")
        await client.get("/v1/me")
    methods = {
        sample.labels["method"]
        for family in metrics.registry.collect()
        if family.name.startswith("helpdesk_http")
        for sample in family.samples
    }
    assert methods == {"GET", "other"}


async def test_security_headers() -> None:
    async with _client(_app(ServiceMetrics("unit"))) as client:
        anonymous = await client.get("/v1/me")
        signed_in = await client.get("/v1/me", headers={"Authorization": "Bearer x"})
        with_cookie = await client.get("/v1/me", headers={"Cookie": "helpdesk_session=x"})
        missing = await client.get("/nowhere", headers={"Authorization": "Bearer x"})
    for response in (anonymous, signed_in, with_cookie, missing):
        assert response.headers["x-content-type-options"] == "nosniff"
    assert "cache-control" not in anonymous.headers
    assert signed_in.headers["cache-control"] == "no-store"
    assert with_cookie.headers["cache-control"] == "no-store"
    assert missing.headers["cache-control"] == "no-store"


async def test_metrics_want_the_token_when_there_is_one() -> None:
    async with _client(_app(ServiceMetrics("unit"), TOKEN)) as client:
        assert (await client.get("/metrics")).status_code == 401
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer " + "u" * 40})
        assert wrong.status_code == 401
        assert wrong.headers["content-type"] == "application/problem+json"
        right = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert right.status_code == 200
    async with _client(_app(ServiceMetrics("unit"))) as client:  # development: open
        assert (await client.get("/metrics")).status_code == 200


@pytest.mark.parametrize("token", [None, "short"], ids=["missing", "short"])
def test_production_needs_a_scrape_token(token: str | None) -> None:
    with pytest.raises(ValidationError, match="production needs METRICS_TOKEN"):
        ServiceSettings(environment="production", jwt_secret=STRONG, metrics_token=token)


def test_production_with_a_token_or_without_metrics_starts() -> None:
    settings = ServiceSettings(environment="production", jwt_secret=STRONG, metrics_token=TOKEN)
    assert settings.metrics_token is not None
    assert TOKEN not in repr(settings)
    ServiceSettings(environment="production", jwt_secret=STRONG, metrics_enabled=False)


def test_http_defaults() -> None:
    settings = ServiceSettings()
    assert settings.max_body_bytes == 64 * 1024
    assert settings.http_header_timeout_seconds == 10.0
    assert settings.http_body_timeout_seconds == 30.0
    assert settings.metrics_enabled
    assert settings.metrics_token is None
