"""A dashboard's stats window near the ends of the calendar is refused, 422 problem+json, not a
500: `to=0001-01-03` puts the default `from` (`to` minus seven days) before year 1, which
overflowed inside the service (fixed in history.domain.stats)."""

from __future__ import annotations

import httpx
import pytest

from devstack.stack import EmbeddedStack
from devstack.testing import bearer
from shared.contracts.identity import Role

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    "query",
    [
        pytest.param({"to": "0001-01-03T00:00:00Z"}, id="default-from-before-year-1"),
        pytest.param({"from": "9999-12-31T00:00:00Z"}, id="from-after-now"),
    ],
)
async def test_a_window_at_the_ends_of_the_calendar_is_422(
    services: EmbeddedStack, query: dict[str, str]
) -> None:
    async with httpx.AsyncClient(base_url=services.config.url("history"), timeout=10) as client:
        response = await client.get(
            "/v1/stats", params=query, headers=bearer("dash-1", Role.DASHBOARD)
        )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 422
