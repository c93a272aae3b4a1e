"""Bearer-token authentication (Help Centre sign-in JWTs) and role checks for FastAPI.

`sub` is the account id, `role` one of customer | agent | dashboard. Identity only ever comes
from a verified token, never from a request body.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import jwt
from fastapi import Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.events import ACCOUNT_ID_PATTERN
from shared.problems import ProblemError
from shared.settings import ServiceSettings


class Role(StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"
    DASHBOARD = "dashboard"


@dataclass(frozen=True, slots=True)
class Principal:
    account_id: str
    role: Role


class InvalidTokenError(Exception):
    pass


_ACCOUNT_ID = re.compile(ACCOUNT_ID_PATTERN)


class TokenVerifier:
    def __init__(self, algorithm: str, key: str, audience: str, issuer: str) -> None:
        self._algorithm = algorithm
        self._key = key
        self._audience = audience
        self._issuer = issuer

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> TokenVerifier:
        return cls(
            settings.jwt_algorithm,
            settings.jwt_verification_key,
            settings.jwt_audience,
            settings.jwt_issuer,
        )

    def verify(self, token: str) -> Principal:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[self._algorithm],  # one algorithm: no "none", no alg confusion
                audience=self._audience,
                issuer=self._issuer,
                options={"require": ["exp", "sub", "aud", "iss"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidTokenError(str(exc)) from exc
        subject, role = claims.get("sub"), claims.get("role")
        if not isinstance(subject, str) or not _ACCOUNT_ID.match(subject):
            raise InvalidTokenError("sub is not an account id")
        try:
            return Principal(account_id=subject, role=Role(str(role)))
        except ValueError as exc:
            raise InvalidTokenError("unknown role") from exc


def issue_token(
    secret: str,
    account_id: str,
    role: Role,
    *,
    audience: str,
    issuer: str,
    ttl: timedelta = timedelta(hours=8),
    algorithm: str = "HS256",
) -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": account_id,
        "role": role.value,
        "aud": audience,
        "iss": issuer,
        "iat": now,
        "exp": now + ttl,
    }
    return jwt.encode(claims, secret, algorithm=algorithm)


_bearer = HTTPBearer(auto_error=False, description="Help Centre sign-in token (JWT)")

UNAUTHENTICATED_HEADERS = {"WWW-Authenticate": "Bearer"}


def require_roles(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """FastAPI dependency: a verified principal holding one of `roles`, else 401 / 403."""

    async def dependency(request: Request) -> Principal:
        credentials: HTTPAuthorizationCredentials | None = await _bearer(request)
        if credentials is None:
            raise ProblemError(
                401,
                "Not authenticated",
                "a bearer token is required",
                headers=UNAUTHENTICATED_HEADERS,
            )
        verifier: TokenVerifier = request.app.state.token_verifier
        try:
            principal = verifier.verify(credentials.credentials)
        except InvalidTokenError as exc:
            raise ProblemError(
                401, "Invalid token", str(exc), headers=UNAUTHENTICATED_HEADERS
            ) from exc
        if principal.role not in roles:
            allowed = ", ".join(r.value for r in roles)
            raise ProblemError(403, "Forbidden", f"this action needs the role: {allowed}")
        return principal

    return dependency
