"""Helpers for the security tests: hostile tokens, the live services' routes, and submitting
tickets through the real intake."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt

from devstack.stack import EmbeddedStack
from devstack.testing import bearer
from shared.settings import DEVELOPMENT_JWT_SECRET, ServiceSettings

_SETTINGS = ServiceSettings()

STRONG_SECRET = "s3cr3t-" + "x" * 40
# Every secret a production intake refuses to start without (besides JWT_SECRET, which the
# tests set themselves); each distinct, as operators are told to make them.
INTAKE_PRODUCTION_SECRETS = {
    "INTAKE_REPLY_SECRET": "reply-" + "r" * 40,
    "INTAKE_RECOVERY_SECRET": "recovery-" + "v" * 40,
    "INTAKE_CLASSIFY_TOKEN": "classify-" + "c" * 40,
}

# Routes anyone may call: probes, the docs (development only; /asyncapi* too), the sign-in form
# (which takes the token in its body and is tested on its own), and account recovery, for the
# customer who cannot sign in (its credential is the mailed link: tests/security/
# test_page_forms.py and the intake's recovery tests).
PUBLIC = frozenset(
    {
        "/static/style.css",
        "/static/suggest.js",
        "/v1/account-recovery",
        "/v1/account-recovery/link",
        "/v1/account-recovery/request",
        "/healthz",
        "/readyz",
        "/docs",
        "/docs/oauth2-redirect",
        "/redoc",
        "/openapi.json",
        "/my-activities/static/style.css",
        "/my-activities/session",
        "/my-activities/session/end",
    }
)

GOOD_TICKET = {
    "category": "cards",
    "subject": "Card not arrived",
    "description": "I ordered my card three weeks ago and it has not arrived.",
}


def _claims(account_id: str = "acc-1001", **overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": account_id,
        "role": "customer",
        "aud": _SETTINGS.jwt_audience,
        "iss": _SETTINGS.jwt_issuer,
        "iat": now,
        "exp": now + timedelta(hours=1),
    }
    return claims | overrides


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forged(token: str, **changes: Any) -> str:
    """A genuine token whose claims were edited after signing (the signature no longer fits)."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return ".".join([header, _b64(json.dumps(claims | changes).encode()), signature])


def hostile_tokens(role: str = "customer") -> dict[str, str]:
    """Tokens every authenticated endpoint must refuse with 401, each for one reason."""
    genuine = bearer("acc-1001")["Authorization"].removeprefix("Bearer ")
    key = _SETTINGS.jwt_verification_key
    assert key == DEVELOPMENT_JWT_SECRET  # the session's services run in development
    past = datetime.now(UTC) - timedelta(minutes=5)
    return {
        "forged": forged(genuine, sub="acc-1002", role=role),
        "expired": jwt.encode(_claims(role=role, exp=past), key, algorithm="HS256"),
        "none-alg": jwt.encode(_claims(role=role), "", algorithm="none"),
        "wrong-key": jwt.encode(
            _claims(role=role), "someone-elses-key-long-enough-0123456789", algorithm="HS256"
        ),
    }


@dataclass(frozen=True)
class Operation:
    service: str
    method: str
    path: str  # as OpenAPI writes it, with {ticket_id} etc.
    spec: dict[str, Any]

    def url(self, **params: str) -> str:
        path = self.path
        for name in _path_params(path):
            path = path.replace("{" + name + "}", params.get(name, "AAAA-BBBB-CCCC"))
        return path

    @property
    def role(self) -> str:
        """The role the route serves, from its OpenAPI tags: agents act on requests (tag
        `agents` alone), customers on their own (every other route that takes a token)."""
        return "agent" if self.spec.get("tags") == ["agents"] else "customer"

    @property
    def json_schema(self) -> dict[str, Any] | None:
        content = self.spec.get("requestBody", {}).get("content", {})
        schema: dict[str, Any] | None = content.get("application/json", {}).get("schema")
        return schema


def _path_params(path: str) -> Iterator[str]:
    for part in path.split("/"):
        if part.startswith("{") and part.endswith("}"):
            yield part[1:-1]


async def operations(stack: EmbeddedStack, service: str) -> list[Operation]:
    """Every operation the live service publishes in its OpenAPI document (development mode)."""
    async with httpx.AsyncClient(base_url=stack.config.url(service), timeout=10) as client:
        document = (await client.get("/openapi.json")).raise_for_status().json()
    found = [
        Operation(service, method.upper(), path, spec)
        for path, item in document["paths"].items()
        for method, spec in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]
    # The page's routes are outside the API schema; list them so they are not forgotten.
    if service == "history":
        found += [
            Operation(service, "GET", "/my-activities", {}),
            Operation(service, "GET", "/my-activities/{ticket_id}", {}),
            Operation(service, "GET", "/my-activities/{ticket_id}/attachments/{attachment_id}", {}),
            Operation(service, "GET", "/requests/new", {}),
            Operation(service, "GET", "/dashboard", {}),
        ]
    return [op for op in found if op.path not in PUBLIC and not op.path.startswith("/asyncapi")]


def resolve(document_schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    for choice in document_schema.get("anyOf", ()):  # an optional body: {$ref} or null
        if "$ref" in choice:
            return resolve(choice, components)
    ref = document_schema.get("$ref")
    if ref is None:
        return document_schema
    resolved: dict[str, Any] = components[ref.rsplit("/", 1)[-1]]
    return resolved


async def components(stack: EmbeddedStack, service: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=stack.config.url(service), timeout=10) as client:
        document = (await client.get("/openapi.json")).raise_for_status().json()
    schemas: dict[str, Any] = document.get("components", {}).get("schemas", {})
    return schemas


async def submit_ticket(
    stack: EmbeddedStack, account: str = "acc-1001", **fields: str
) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=stack.config.url("intake"), timeout=20) as client:
        response = await client.post(
            "/v1/tickets", headers=bearer(account), json=GOOD_TICKET | fields
        )
    assert response.status_code == 202, response.text
    accepted: dict[str, Any] = response.json()
    return accepted


async def csrf_of(browser: httpx.AsyncClient, path: str = "/my-activities") -> str:
    """The CSRF token a page puts in its forms, for this client's cookie jar (its browser)."""
    page = await browser.get(path)
    found = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', page.text)
    assert found is not None, f"no form on {path}: {page.status_code}"
    return found.group(1)
