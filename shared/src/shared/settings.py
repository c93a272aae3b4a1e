"""Settings common to every service. Each service subclasses ServiceSettings with its own env
prefix (INTAKE_, ROUTER_, NOTIFIER_, HISTORY_), so one process's configuration never leaks
into another's: INTAKE_KAFKA_BOOTSTRAP_SERVERS, ROUTER_MONGO_URL, ...
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.contracts.topics import Topics

# Signs development tokens only (`make token`). Production refuses to start with it.
DEVELOPMENT_JWT_SECRET = "development-only-signing-key-never-use-in-production"  # noqa: S105

Environment = Literal["development", "production"]


class InsecureConfigurationError(ValueError):
    """A production process was configured with a development default."""


class BatchConsumerSettings(BaseSettings):
    """How a service's consumer takes its topics: in batches of up to this many records."""

    batch_max_records: int = Field(default=500, ge=1)
    batch_timeout_ms: int = Field(
        default=200, ge=1, description="The longest an idle poll waits; data returns at once"
    )


def require_production_secret(settings: object, secret: str, development: str, name: str) -> None:
    """A secret shared between services must not keep its development value in production."""
    if getattr(settings, "environment", "development") != "production":
        return
    if secret == development or len(secret) < 32:
        raise InsecureConfigurationError(
            f"production needs {name} of 32+ characters that is not the development key"
        )


# Signs development reply addresses only; production refuses to start with it.
DEVELOPMENT_REPLY_SECRET = "development-only-reply-address-key"  # noqa: S105


class ReplyAddressSettings(BaseSettings):
    """The per-request reply addresses (shared.contracts.reply_address): the notifier writes
    them, the intake's mail receiver reads them; both must hold the same secret."""

    reply_domain: str = "reply.helpcentre.example"
    reply_secret: SecretStr = Field(
        default=SecretStr(DEVELOPMENT_REPLY_SECRET),
        description="HMAC key of the reply addresses' tags; 32+ characters in production",
    )

    @property
    def reply_key(self) -> str:
        return self.reply_secret.get_secret_value()

    @model_validator(mode="after")
    def _no_development_reply_secret_in_production(self) -> Self:
        require_production_secret(self, self.reply_key, DEVELOPMENT_REPLY_SECRET, "REPLY_SECRET")
        return self


DEVELOPMENT_RECOVERY_SECRET = "development-only-account-recovery-key"  # noqa: S105


class RecoveryLinkSettings(BaseSettings):
    """The one-time account-recovery links (shared.contracts.recovery): the notifier signs
    them, the intake honours them; both must hold the same secret."""

    recovery_secret: SecretStr = Field(
        default=SecretStr(DEVELOPMENT_RECOVERY_SECRET),
        description="HMAC key of the recovery links; 32+ characters in production",
    )
    recovery_link_minutes: int = Field(
        default=30, ge=5, le=24 * 60, description="How long a recovery link works"
    )

    @property
    def recovery_key(self) -> str:
        return self.recovery_secret.get_secret_value()

    @model_validator(mode="after")
    def _no_development_recovery_secret_in_production(self) -> Self:
        require_production_secret(
            self, self.recovery_key, DEVELOPMENT_RECOVERY_SECRET, "RECOVERY_SECRET"
        )
        return self


DEVELOPMENT_CLASSIFY_TOKEN = "development-only-classify-token"  # noqa: S105


class ClassifyTokenSettings(BaseSettings):
    """The bearer token of the router's `POST /v1/classify` (service to service): the router
    accepts it, the intake sends it."""

    classify_token: SecretStr = Field(
        default=SecretStr(DEVELOPMENT_CLASSIFY_TOKEN),
        description="Bearer token of POST /v1/classify; 32+ characters in production",
    )

    @property
    def classify_key(self) -> str:
        return self.classify_token.get_secret_value()

    @model_validator(mode="after")
    def _no_development_classify_token_in_production(self) -> Self:
        require_production_secret(
            self, self.classify_key, DEVELOPMENT_CLASSIFY_TOKEN, "CLASSIFY_TOKEN"
        )
        return self


class ServiceSettings(BaseSettings):
    # hide_input_in_errors: a refused configuration must not print every setting it was given
    # (secrets included) into the log.
    model_config = SettingsConfigDict(
        extra="ignore", env_file=None, frozen=True, env_ignore_empty=True, hide_input_in_errors=True
    )

    environment: Environment = "development"
    log_format: Literal["console", "json"] | None = Field(
        default=None, description="Default: console in development, json in production"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    host: str = "127.0.0.1"
    port: int = 8000

    kafka_bootstrap_servers: str = "localhost:9092"
    kafka_enable_idempotence: bool = Field(
        default=True,
        description="Idempotent producer; the embedded Tansu broker does not support it",
    )
    kafka_request_timeout_ms: int = 10_000
    topic_prefix: str = ""

    mongo_url: SecretStr = SecretStr("mongodb://localhost:27017/?directConnection=true")
    mongo_timeout_ms: int = 5_000

    catalog_path: Path | None = None

    jwt_algorithm: Literal["HS256", "RS256"] = "HS256"
    jwt_secret: SecretStr | None = Field(default=None, description="HS256 key")
    jwt_public_key_path: Path | None = Field(default=None, description="RS256 public key (PEM)")
    jwt_jwks_path: Path | None = Field(
        default=None, description="RS256 keys as a JWKS file; each token names its key by kid"
    )
    jwt_audience: str = "helpcentre"
    jwt_issuer: str = "helpcentre-signin"

    # What one HTTP client may cost us (shared.http): bytes held, and time a connection is held
    # by a client that sends nothing.
    max_body_bytes: int = Field(
        default=64 * 1024, ge=1024, description="A request body, unless the service caps by route"
    )
    http_header_timeout_seconds: float = Field(
        default=10.0, gt=0, description="From connection (or the last response) to a full head"
    )
    http_body_timeout_seconds: float = Field(
        default=30.0, gt=0, description="The longest a request body may stall between two reads"
    )

    metrics_enabled: bool = Field(default=True, description="Serve Prometheus metrics at /metrics")
    metrics_token: SecretStr | None = Field(
        default=None, description="Bearer token /metrics requires; production needs 32+ chars"
    )

    @property
    def topics(self) -> Topics:
        return Topics(prefix=self.topic_prefix)

    @property
    def effective_log_format(self) -> Literal["console", "json"]:
        if self.log_format:
            return self.log_format
        return "console" if self.environment == "development" else "json"

    @property
    def jwt_verification_key(self) -> str:
        if self.jwt_algorithm == "RS256":
            if self.jwt_public_key_path is None:
                raise InsecureConfigurationError("RS256 needs JWT_PUBLIC_KEY_PATH or JWT_JWKS_PATH")
            return self.jwt_public_key_path.read_text()
        if self.jwt_secret is not None:
            return self.jwt_secret.get_secret_value()
        return DEVELOPMENT_JWT_SECRET

    @model_validator(mode="after")
    def _no_development_secrets_in_production(self) -> Self:
        if self.environment != "production":
            return self
        if self.jwt_algorithm == "HS256":
            secret = self.jwt_secret.get_secret_value() if self.jwt_secret else None
            if secret is None or secret == DEVELOPMENT_JWT_SECRET or len(secret) < 32:
                raise InsecureConfigurationError(
                    "production needs JWT_SECRET of 32+ characters that is not the development"
                    " key, or JWT_ALGORITHM=RS256 with JWT_PUBLIC_KEY_PATH or JWT_JWKS_PATH"
                )
        elif self.jwt_public_key_path is None and self.jwt_jwks_path is None:
            raise InsecureConfigurationError(
                "production RS256 needs JWT_PUBLIC_KEY_PATH or JWT_JWKS_PATH"
            )
        # The metrics name our routes, traffic and consumer lag: not for anyone who can reach
        # the port.
        token = self.metrics_token.get_secret_value() if self.metrics_token else ""
        if self.metrics_enabled and len(token) < 32:
            raise InsecureConfigurationError(
                "production needs METRICS_TOKEN of 32+ characters (Prometheus's bearer token"
                " for /metrics), or METRICS_ENABLED=false"
            )
        return self
