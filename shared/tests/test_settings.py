from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.settings import DEVELOPMENT_JWT_SECRET, ServiceSettings

pytestmark = pytest.mark.unit


def test_development_falls_back_to_the_development_key() -> None:
    assert ServiceSettings().jwt_verification_key == DEVELOPMENT_JWT_SECRET


@pytest.mark.parametrize(
    "secret", [None, DEVELOPMENT_JWT_SECRET, "short"], ids=["missing", "development-key", "short"]
)
def test_production_refuses_development_or_weak_secrets(secret: str | None) -> None:
    with pytest.raises(ValidationError, match="production needs JWT_SECRET"):
        ServiceSettings(environment="production", jwt_secret=secret)


def test_production_refuses_rs256_without_a_public_key() -> None:
    with pytest.raises(ValidationError, match="JWT_PUBLIC_KEY_PATH"):
        ServiceSettings(environment="production", jwt_algorithm="RS256")


def test_production_with_a_real_secret_starts_and_logs_json() -> None:
    settings = ServiceSettings(
        environment="production", jwt_secret="s" * 48, metrics_token="m" * 40
    )
    assert settings.jwt_verification_key == "s" * 48
    assert settings.effective_log_format == "json"


def test_secrets_do_not_show_in_repr() -> None:
    settings = ServiceSettings(
        environment="production",
        jwt_secret="s" * 48,
        mongo_url="mongodb://user:hunter2@db/",
        metrics_token="m" * 40,
    )
    assert "hunter2" not in repr(settings)
    assert "s" * 48 not in repr(settings)
    assert "m" * 40 not in repr(settings)
