from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from intake.domain.attachments import ALLOWED_TYPES, MIB
from shared.settings import (
    BatchConsumerSettings,
    ClassifyTokenSettings,
    RecoveryLinkSettings,
    ReplyAddressSettings,
    ServiceSettings,
)


class IntakeSettings(
    ReplyAddressSettings,
    RecoveryLinkSettings,
    ClassifyTokenSettings,
    BatchConsumerSettings,
    ServiceSettings,
):
    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore", frozen=True)

    port: int = 8001
    database: str = "intake"

    subject_max_length: int = Field(default=200, ge=1)
    description_min_length: int = Field(default=10, ge=0)
    description_max_length: int = Field(default=20_000, ge=1)
    message_max_length: int = Field(
        default=20_000, ge=1, description="Comments, agent replies, notes"
    )

    max_attachments: int = Field(default=10, ge=0, description="Files per request")
    max_attachment_bytes: int = Field(default=10 * MIB, ge=1, description="Bytes per file")
    attachment_types: tuple[str, ...] = Field(
        default=ALLOWED_TYPES, description="Allowed types, judged from the bytes (JSON list)"
    )
    max_json_bytes: int = Field(default=256 * 1024, ge=1024, description="A JSON request body")
    max_form_field_bytes: int = Field(default=128 * 1024, ge=1024, description="A form's text")

    rate_limit_tickets: int = Field(default=20, ge=1, description="New requests per account...")
    rate_limit_window_seconds: int = Field(default=3600, ge=1, description="...per this window")

    duplicate_window_seconds: int = Field(
        default=600,
        ge=0,
        description="An identical keyless submission within this is a retry; 0 turns it off",
    )
    idempotency_key_ttl_seconds: int = Field(default=86_400, ge=60)
    idempotency_wait_seconds: float = Field(
        default=10.0, ge=0, description="How long a retry waits for the first attempt's answer"
    )
    idempotency_lease_seconds: float = Field(
        default=120.0, ge=1, description="A claim older than this was abandoned (a crash)"
    )

    publish_timeout_seconds: float = Field(
        default=5.0, gt=0, description="No acknowledgement from Kafka within this: 503"
    )
    outbox_grace_seconds: float = Field(
        default=30.0,
        gt=0,
        description="An event still unpublished this long after it was recorded is published"
        " by the relay (a crash, or Kafka away); longer than publish_timeout_seconds",
    )
    outbox_relay_interval_seconds: float = Field(
        default=2.0, gt=0, description="How often the relay looks for due events"
    )
    activity_rate_limit: int = Field(
        default=60, ge=1, description="Comments and uploads per customer account..."
    )
    activity_rate_window_seconds: int = Field(default=600, ge=1, description="...per this window")

    # Suggestions while a customer types: the router's classification (POST /v1/classify).
    router_url: str = Field(default="http://127.0.0.1:8002", description="The router's HTTP API")
    suggestion_timeout_seconds: float = Field(
        default=0.5, gt=0, le=5, description="No answer from the router within this: none"
    )
    suggestion_propose_above: float = Field(
        default=0.5, ge=0, le=1, description="Propose a category only this likely or more"
    )
    suggestion_rate_limit: int = Field(
        default=120, ge=1, description="Suggestions per customer account per minute"
    )

    # Account recovery (locked out by 2FA): links asked for, per address and per client.
    recovery_rate_limit_per_address: int = Field(default=3, ge=1, description="...per hour")
    recovery_rate_limit_per_client: int = Field(default=10, ge=1, description="...per hour")

    # The mail receiver (intake.mail_app), a process of its own: where its SMTP side listens.
    mail_host: str = "127.0.0.1"
    mail_port: int = Field(default=2525, ge=1, le=65535)
    mail_max_bytes: int = Field(
        default=25 * MIB, ge=1024, description="A whole message; larger is refused (552)"
    )
    mail_require_authentication: bool = Field(
        default=False,
        description="Require DMARC pass, or DKIM pass aligned with the From domain, in the"
        " Authentication-Results of a trusted receiving MTA",
    )
    mail_trusted_servers: tuple[str, ...] = Field(
        default=(), description="authserv-ids of the MTAs whose Authentication-Results count"
    )
