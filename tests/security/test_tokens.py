"""Forged, expired, none-alg and wrong-key tokens on every route of every service, as running
processes. Routes are read from each service's own OpenAPI document, so a route added later is
covered without editing this file; a route that should be public must be named in PUBLIC."""

from __future__ import annotations

import httpx
import pytest

from devstack.stack import SERVICES, EmbeddedStack
from devstack.testing import bearer
from shared.contracts.identity import Role

from .security_support import csrf_of, hostile_tokens, operations, submit_ticket

pytestmark = pytest.mark.e2e

BODY = {"body": "hello there", "status": "solved", "note": "n", "documents": True}


async def test_every_route_refuses_hostile_tokens(services: EmbeddedStack) -> None:
    ticket_id = (await submit_ticket(services))["ticket_id"]
    checked: dict[str, int] = {}
    for service in SERVICES:
        ops = await operations(services, service)
        checked[service] = len(ops)
        async with httpx.AsyncClient(base_url=services.config.url(service), timeout=10) as client:
            for op in ops:
                url = op.url(ticket_id=ticket_id, attachment_id="att-1")
                # Agent routes get agent claims, so a 403 for the role cannot hide a token
                # that was wrongly accepted. The page also reads the token from its cookie.
                ways = ("header", "cookie") if url.startswith("/my-activities") else ("header",)
                for reason, token in hostile_tokens(op.role).items():
                    for how in ways:
                        kwargs: dict[str, object] = (
                            {"headers": {"Authorization": f"Bearer {token}"}}
                            if how == "header"
                            else {"cookies": {"helpdesk_session": token}}
                        )
                        response = await client.request(
                            op.method,
                            url,
                            json=BODY if op.method == "POST" else None,
                            **kwargs,  # type: ignore[arg-type]
                        )
                        where = f"{service} {op.method} {op.path} {reason} via {how}"
                        assert response.status_code == 401, where
                        assert "Card not arrived" not in response.text, where
    # The notifier serves probes and docs alone, the router its classification for the intake
    # (a service token, so every user token is refused); a new route there would be listed,
    # and would have to refuse these tokens.
    assert checked["notifier"] == 0
    assert checked["router"] == 1
    assert checked["intake"] >= 7
    assert checked["history"] >= 5


async def test_sign_in_form_refuses_hostile_tokens(services: EmbeddedStack) -> None:
    url = services.config.url("history")
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        csrf = await csrf_of(client)
        for reason, token in hostile_tokens().items():
            response = await client.post(
                "/my-activities/session",
                data={"token": token, "csrf_token": csrf},
                headers={"Origin": url},
            )
            assert response.status_code == 401, reason
            assert "helpdesk_session" not in response.headers.get("set-cookie", ""), reason
        genuine = bearer("acc-1001")["Authorization"].removeprefix("Bearer ")
        accepted = await client.post(
            "/my-activities/session",
            data={"token": genuine, "csrf_token": csrf},
            headers={"Origin": url},
        )
        assert accepted.status_code == 303
        assert "helpdesk_session" in accepted.headers["set-cookie"]


async def test_a_genuine_token_with_the_wrong_role_is_403_not_401(services: EmbeddedStack) -> None:
    # The control for the tests above: the same routes answer a valid token otherwise.
    ticket_id = (await submit_ticket(services))["ticket_id"]
    async with httpx.AsyncClient(base_url=services.config.url("intake"), timeout=10) as client:
        response = await client.post(
            f"/v1/tickets/{ticket_id}/status",
            headers=bearer("acc-1001", Role.CUSTOMER),
            json={"status": "closed"},
        )
    assert response.status_code == 403
