"""Response headers that keep personal data where it was sent (shared.http.security_headers):
`nosniff` on every response of every service, and `no-store` on every answer to a request that
carried credentials, unless the route chose its own Cache-Control. The attack that found it: the
JSON of /v1/accounts/me/activities (someone's requests) was cacheable by the browser and any
shared proxy, and no response said nosniff."""

from __future__ import annotations

import httpx
import pytest

from devstack.stack import SERVICES, EmbeddedStack
from devstack.testing import bearer
from shared.contracts.identity import Role

pytestmark = pytest.mark.e2e

# Authenticated reads of personal data, by service (router and notifier serve none).
PERSONAL = {
    "intake": ("/v1/categories", Role.CUSTOMER),
    "history": ("/v1/accounts/me/activities", Role.CUSTOMER),
}


@pytest.mark.parametrize("service", SERVICES)
async def test_every_response_says_nosniff(services: EmbeddedStack, service: str) -> None:
    async with httpx.AsyncClient(base_url=services.config.url(service), timeout=10) as client:
        for response in (
            await client.get("/healthz"),
            await client.get("/nowhere"),  # an error, problem+json
            await client.get("/metrics"),
        ):
            assert response.headers["x-content-type-options"] == "nosniff", response.url
            # Nothing personal without credentials: caching is the route's business.
            assert response.headers.get("cache-control") != "no-store", response.url


@pytest.mark.parametrize("service", SERVICES)
async def test_a_request_with_credentials_is_never_stored(
    services: EmbeddedStack, service: str
) -> None:
    async with httpx.AsyncClient(base_url=services.config.url(service), timeout=10) as client:
        for headers in (
            bearer("acc-1001"),
            {"Authorization": "Bearer not-a-token"},  # refused: still no-store
            {"Cookie": "helpdesk_session=whatever"},
        ):
            response = await client.get("/healthz", headers=headers)
            assert response.headers["cache-control"] == "no-store", headers
            assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("service", sorted(PERSONAL))
async def test_personal_json_is_never_stored(services: EmbeddedStack, service: str) -> None:
    path, role = PERSONAL[service]
    async with httpx.AsyncClient(base_url=services.config.url(service), timeout=10) as client:
        response = await client.get(path, headers=bearer("acc-1001", role))
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/json")
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["x-content-type-options"] == "nosniff"

        refused = await client.get(path)  # no credentials: 401, nothing to store anyway
        assert refused.status_code == 401
        assert refused.headers["x-content-type-options"] == "nosniff"


async def test_a_route_that_sets_its_own_cache_control_keeps_it(services: EmbeddedStack) -> None:
    async with httpx.AsyncClient(base_url=services.config.url("history"), timeout=10) as client:
        response = await client.get(
            "/my-activities/static/style.css", headers={"Cookie": "helpdesk_session=x"}
        )
        assert response.status_code == 200
        assert response.headers["cache-control"] == "public, max-age=3600"
