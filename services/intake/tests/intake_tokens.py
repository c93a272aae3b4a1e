"""Bearer headers that must be refused, each for one reason."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from shared.contracts.identity import Role
from shared.settings import ServiceSettings
from shared.tokens import issue_token

_SETTINGS = ServiceSettings()
_KEY = _SETTINGS.jwt_verification_key


def _claims(**overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": "acc-1001",
        "role": "customer",
        "aud": _SETTINGS.jwt_audience,
        "iss": _SETTINGS.jwt_issuer,
        "iat": now,
        "exp": now + timedelta(hours=1),
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _header(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _hs512() -> str:
    # Signed with the right key but another algorithm: only the configured one is accepted.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyJWT warns the key is short for SHA-512
        return jwt.encode(_claims(), _KEY, algorithm="HS512")


def bad_tokens() -> dict[str, dict[str, str]]:
    past = datetime.now(UTC) - timedelta(minutes=5)
    return {
        "none-alg": _header(jwt.encode(_claims(), "", algorithm="none")),
        "expired": _header(
            issue_token(
                _KEY,
                "acc-1001",
                Role.CUSTOMER,
                audience=_SETTINGS.jwt_audience,
                issuer=_SETTINGS.jwt_issuer,
                ttl=timedelta(seconds=-60),
            )
        ),
        "expired-claims": _header(jwt.encode(_claims(exp=past), _KEY, algorithm="HS256")),
        "wrong-audience": _header(jwt.encode(_claims(aud="elsewhere"), _KEY, algorithm="HS256")),
        "wrong-issuer": _header(jwt.encode(_claims(iss="someone"), _KEY, algorithm="HS256")),
        "wrong-key": _header(
            jwt.encode(_claims(), "another-key-that-is-long-enough-0123456789", algorithm="HS256")
        ),
        "hs512": _header(_hs512()),
        "no-exp": _header(jwt.encode(_claims(exp=None), _KEY, algorithm="HS256")),
        "unknown-role": _header(jwt.encode(_claims(role="admin"), _KEY, algorithm="HS256")),
        "bad-subject": _header(jwt.encode(_claims(sub="a b c"), _KEY, algorithm="HS256")),
        "garbage": {"Authorization": "Bearer not-a-jwt"},
        "basic-scheme": {"Authorization": "Basic YWxpY2U6c2VjcmV0"},
        "none": {},
    }
