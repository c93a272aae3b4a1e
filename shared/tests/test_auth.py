from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from fastapi import Depends, FastAPI
from httpx import ASGITransport, AsyncClient

from shared.contracts.identity import Principal, Role
from shared.http.auth import require_roles
from shared.http.problems import install_problem_handlers
from shared.settings import ServiceSettings
from shared.tokens import InvalidTokenError, TokenVerifier, issue_token, load_jwks

pytestmark = pytest.mark.unit

KEY = "k" * 40
AUD, ISS = "helpcentre", "helpcentre-signin"


def token(**overrides: object) -> str:
    now = datetime.now(UTC)
    claims: dict[str, object] = {
        "sub": "acc-1001",
        "role": "customer",
        "aud": AUD,
        "iss": ISS,
        "iat": now,
        "exp": now + timedelta(minutes=5),
    }
    return jwt.encode(claims | overrides, KEY, algorithm="HS256")


verifier = TokenVerifier("HS256", KEY, AUD, ISS)


def test_valid_token_gives_the_principal() -> None:
    assert verifier.verify(token()) == Principal("acc-1001", Role.CUSTOMER)
    assert verifier.verify(issue_token(KEY, "agent-1", Role.AGENT, audience=AUD, issuer=ISS)) == (
        Principal("agent-1", Role.AGENT)
    )


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(token(exp=datetime.now(UTC) - timedelta(seconds=1)), id="expired"),
        pytest.param(token(aud="elsewhere"), id="wrong-audience"),
        pytest.param(token(iss="someone"), id="wrong-issuer"),
        pytest.param(token(role="admin"), id="unknown-role"),
        pytest.param(token(sub={"$ne": None}), id="operator-as-subject"),
        pytest.param(
            jwt.encode(
                {"sub": "acc-1001", "role": "customer", "aud": AUD, "iss": ISS},
                KEY,
                algorithm="HS256",
            ),
            id="no-expiry",
        ),
        pytest.param(
            jwt.encode(
                {
                    "sub": "acc-1001",
                    "role": "agent",
                    "aud": AUD,
                    "iss": ISS,
                    "exp": datetime.now(UTC) + timedelta(minutes=5),
                },
                "another-key-of-sufficient-length-000",
                algorithm="HS256",
            ),
            id="wrong-key",
        ),
        pytest.param(
            jwt.encode(
                {
                    "sub": "acc-1001",
                    "role": "agent",
                    "aud": AUD,
                    "iss": ISS,
                    "exp": datetime.now(UTC) + timedelta(minutes=5),
                },
                "",
                algorithm="none",
            ),
            id="none-alg",
        ),
        pytest.param("not-a-token", id="garbage"),
    ],
)
def test_bad_tokens_are_rejected(bad: str) -> None:
    with pytest.raises(InvalidTokenError):
        verifier.verify(bad)


@pytest.mark.parametrize("sub", ["acc-1001\n", "acc-1001\r\n", "\nacc-1001", "acc-1001 "])
def test_a_subject_with_a_line_break_or_space_is_not_an_account(sub: str) -> None:
    # `re.match(r"...$")` accepts "acc-1001\n": `$` matches before a final newline. The
    # account id ends up in queries, logs and mail headers, so it must be exactly one.
    with pytest.raises(InvalidTokenError, match="sub is not an account id"):
        verifier.verify(token(sub=sub))


def app_with_customer_route() -> AsyncClient:
    app = FastAPI()
    app.state.token_verifier = verifier
    install_problem_handlers(app)

    @app.get("/me")
    async def me(p: Principal = Depends(require_roles(Role.CUSTOMER))) -> dict[str, str]:  # noqa: B008
        return {"account_id": p.account_id}

    return AsyncClient(transport=ASGITransport(app=app), base_url="http://test")


async def test_dependency_answers_401_403_as_problem_json() -> None:
    client = app_with_customer_route()
    missing = await client.get("/me")
    assert missing.status_code == 401
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.headers["www-authenticate"] == "Bearer"
    assert (
        await client.get("/me", headers={"Authorization": f"Bearer {token(aud='x')}"})
    ).status_code == 401
    forbidden = await client.get("/me", headers={"Authorization": f"Bearer {token(role='agent')}"})
    assert forbidden.status_code == 403
    assert forbidden.json()["title"] == "Forbidden"
    ok = await client.get("/me", headers={"Authorization": f"Bearer {token()}"})
    assert ok.json() == {"account_id": "acc-1001"}


def rsa_jwk(kid: str) -> tuple[object, dict[str, object]]:
    from cryptography.hazmat.primitives.asymmetric import rsa

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public: dict[str, object] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    return private, public | {"kid": kid, "use": "sig"}


def rs256_token(private: object, kid: str, **overrides: object) -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": "acc-1001",
        "role": "customer",
        "aud": AUD,
        "iss": ISS,
        "exp": now + timedelta(minutes=5),
    }
    return jwt.encode(claims | overrides, private, algorithm="RS256", headers={"kid": kid})  # type: ignore[arg-type]


def test_jwks_verifies_by_kid_and_refuses_unknown_keys(tmp_path: Path) -> None:
    current, current_jwk = rsa_jwk("2026-11")
    previous, previous_jwk = rsa_jwk("2026-10")
    stranger, _ = rsa_jwk("2026-11")  # same kid, another key: a forgery
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [current_jwk, previous_jwk]}))
    settings = ServiceSettings(jwt_algorithm="RS256", jwt_jwks_path=jwks)
    rotating = TokenVerifier.from_settings(settings)

    assert rotating.verify(rs256_token(current, "2026-11")).account_id == "acc-1001"
    assert rotating.verify(rs256_token(previous, "2026-10")).account_id == "acc-1001"
    for bad in (
        rs256_token(stranger, "2026-11"),
        rs256_token(current, "unknown"),
        token(),  # HS256 with no kid: not accepted by an RS256 verifier
    ):
        with pytest.raises(InvalidTokenError):
            rotating.verify(bad)


def test_a_jwks_without_signing_keys_is_refused() -> None:
    with pytest.raises(ValueError, match="no signing key"):
        load_jwks(json.dumps({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}))
