"""Bearer-token authentication and role checks for FastAPI routes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.contracts.identity import Principal, Role
from shared.http.problems import ProblemError
from shared.tokens import InvalidTokenError, TokenVerifier

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
