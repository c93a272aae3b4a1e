"""Help Centre sign-in tokens (JWT): `sub` is the account id, `role` one of customer | agent |
dashboard. Verified with one algorithm and one key (or the key a JWKS names by `kid`), with
audience, issuer and expiry required. Identity only ever comes from a verified token.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from shared.contracts.events import ACCOUNT_ID_PATTERN
from shared.contracts.identity import Principal, Role
from shared.settings import ServiceSettings


class InvalidTokenError(Exception):
    pass


_ACCOUNT_ID = re.compile(ACCOUNT_ID_PATTERN)


def load_jwks(text: str) -> dict[str, Any]:
    """The signing keys of a JWKS document (RFC 7517) by key id; keys without a kid are
    skipped, since a token could not name them."""
    try:
        jwks = jwt.PyJWKSet.from_json(text)
    except jwt.PyJWTError as exc:
        raise ValueError(f"not a usable JWKS: {exc}") from exc
    keys = {k.key_id: k.key for k in jwks.keys if k.key_id and k.public_key_use in (None, "sig")}
    if not keys:
        raise ValueError("the JWKS holds no signing key with a kid")
    return keys


class TokenVerifier:
    """Verifies with one key, or with the key a token names (`kid`) out of a JWKS, so the
    sign-in service can rotate keys without a restart of ours."""

    def __init__(
        self,
        algorithm: str,
        key: Any,
        audience: str,
        issuer: str,
        keys_by_id: Mapping[str, Any] | None = None,
    ) -> None:
        self._algorithm = algorithm
        self._key = key
        self._keys_by_id = keys_by_id
        self._audience = audience
        self._issuer = issuer

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> TokenVerifier:
        if settings.jwt_algorithm == "RS256" and settings.jwt_jwks_path is not None:
            keys = load_jwks(settings.jwt_jwks_path.read_text())
            return cls("RS256", None, settings.jwt_audience, settings.jwt_issuer, keys)
        return cls(
            settings.jwt_algorithm,
            settings.jwt_verification_key,
            settings.jwt_audience,
            settings.jwt_issuer,
        )

    def _key_for(self, token: str) -> Any:
        if self._keys_by_id is None:
            return self._key
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError as exc:
            raise InvalidTokenError(str(exc)) from exc
        key = self._keys_by_id.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise InvalidTokenError("the token's kid names no key we know")
        return key

    def verify(self, token: str) -> Principal:
        try:
            claims = jwt.decode(
                token,
                self._key_for(token),
                algorithms=[self._algorithm],  # one algorithm: no "none", no alg confusion
                audience=self._audience,
                issuer=self._issuer,
                options={"require": ["exp", "sub", "aud", "iss"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidTokenError(str(exc)) from exc
        subject, role = claims.get("sub"), claims.get("role")
        # fullmatch: `$` would also accept a trailing newline ("acc-1001\n").
        if not isinstance(subject, str) or not _ACCOUNT_ID.fullmatch(subject):
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
