"""/metrics can be neither inflated nor read by strangers. Every label value of the HTTP series
comes from a fixed set (shared.metrics: made-up methods count as "other"), and in production
/metrics wants the scrape token, without which a production process does not start. The
attack that found it: a few thousand made-up methods grew every service's registry (and each
scrape) without bound, and anyone could read the routes, traffic and lag."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Mapping

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from devstack.stack import SERVICES, EmbeddedStack

from .http_support import exchange, extra_service, request_head
from .security_support import INTAKE_PRODUCTION_SECRETS, STRONG_SECRET

pytestmark = pytest.mark.e2e

KNOWN_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"}
MADE_UP = 60
SCRAPE_TOKEN = "scrape-" + "t" * 40


def http_series(text: str) -> set[tuple[str, str, str]]:
    """(method, route, status) of every HTTP request series: one per value combination."""
    return {
        (sample.labels["method"], sample.labels["route"], sample.labels["status"])
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "helpdesk_http_requests_total"
    }


@pytest.mark.parametrize("service", SERVICES)
async def test_made_up_methods_do_not_grow_the_registry(
    services: EmbeddedStack, service: str
) -> None:
    url = services.config.url(service)
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        await client.get("/metrics")  # so the scrape's own series is there before we count
        before = http_series((await client.get("/metrics")).text)
        methods = [f"X{secrets.token_hex(4).upper()}" for _ in range(MADE_UP)]
        await asyncio.gather(
            *(
                exchange(url, request_head(m, f"/nowhere/{n}", {"Connection": "close"}))
                for n, m in enumerate(methods)
            )
        )
        after = http_series((await client.get("/metrics")).text)

    methods_seen = {method for method, _, _ in after}
    assert methods_seen <= KNOWN_METHODS, sorted(methods_seen - KNOWN_METHODS)[:5]
    assert all(status.isdigit() for _, _, status in after)
    # Every made-up method on an unmatched route: one series (or two, with a second status).
    new = after - before
    assert {(method, route) for method, route, _ in new} <= {("other", "unmatched")}, new
    assert len(new) <= 2


def production_env(**settings: str) -> dict[str, str]:
    return (
        {"INTAKE_ENVIRONMENT": "production", "INTAKE_JWT_SECRET": STRONG_SECRET}
        | INTAKE_PRODUCTION_SECRETS
        | {f"INTAKE_{name.upper()}": value for name, value in settings.items()}
    )


async def test_production_metrics_want_the_scrape_token(infra: EmbeddedStack) -> None:
    env = production_env(metrics_token=SCRAPE_TOKEN)
    async with (
        extra_service(infra, "intake", env, "prod-metrics") as stack,
        httpx.AsyncClient(base_url=stack.config.url("intake"), timeout=10) as client,
    ):
        for headers in (
            {},
            {"Authorization": "Bearer wrong-" + "t" * 40},
            {"Authorization": f"Bearer {SCRAPE_TOKEN[:-1]}"},
            {"Authorization": f"Basic {SCRAPE_TOKEN}"},
            {"Authorization": SCRAPE_TOKEN},
        ):
            refused = await client.get("/metrics", headers=headers)
            assert refused.status_code == 401, headers
            assert refused.headers["content-type"].startswith("application/problem+json")
            assert refused.headers["www-authenticate"] == "Bearer"
            assert "helpdesk_" not in refused.text

        scraped = await client.get("/metrics", headers={"Authorization": f"Bearer {SCRAPE_TOKEN}"})
        assert scraped.status_code == 200
        assert "helpdesk_http_requests_total" in scraped.text
        assert (await client.get("/readyz")).status_code == 200  # probes stay open


async def test_production_refuses_to_start_without_a_scrape_token(infra: EmbeddedStack) -> None:
    cases = {"no-token": production_env(), "short-token": production_env(metrics_token="short")}

    async def refused(case: str, env: Mapping[str, str]) -> None:
        async with extra_service(infra, "intake", env, f"prod-{case}", ready=False) as stack:
            process = stack.processes["intake"]
            assert process.process is not None
            code = await asyncio.wait_for(process.process.wait(), timeout=60)
            assert code != 0, f"started in production with {case}"
            assert process.log_file is not None
            log = process.log_file.read_text()
        assert "production needs METRICS_TOKEN" in log, case
        assert STRONG_SECRET not in log

    await asyncio.gather(*(refused(case, env) for case, env in cases.items()))


async def test_production_without_metrics_needs_no_token(infra: EmbeddedStack) -> None:
    env = production_env(metrics_enabled="false")
    async with (
        extra_service(infra, "intake", env, "prod-no-metrics") as stack,
        httpx.AsyncClient(base_url=stack.config.url("intake"), timeout=10) as client,
    ):
        assert (await client.get("/metrics")).status_code == 404
