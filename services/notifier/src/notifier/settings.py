from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from shared.settings import (
    BatchConsumerSettings,
    RecoveryLinkSettings,
    ReplyAddressSettings,
    ServiceSettings,
)


class NotifierSettings(
    RecoveryLinkSettings, ReplyAddressSettings, BatchConsumerSettings, ServiceSettings
):
    model_config = SettingsConfigDict(env_prefix="NOTIFIER_", extra="ignore", frozen=True)

    port: int = 8003
    database: str = "notifier"
    smtp_host: str = "localhost"
    smtp_port: int = 1025
    smtp_security: Literal["none", "starttls", "tls"] = "none"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout_seconds: float = 10.0
    mail_from: str = "Help Centre <support@helpcentre.example>"
    mail_domain: str = "helpcentre.example"
    public_base_url: str = Field(
        default="http://127.0.0.1:8004",
        description="The Help Centre's public pages (history serves them): the mails link to"
        " <url>/my-activities/<ticket id> (#comment, #documents) and <url>/account-recovery/",
    )
    retry_max_attempts: int = 6
    retry_base_seconds: float = 2.0
    retry_max_delay_seconds: float = 300.0
    retry_poll_seconds: float = 0.5
    batch_max_records: int = Field(default=200, ge=1)
    concurrency: int = Field(default=1, ge=1)
    """Requests whose mails are sent at once (each its own SMTP connection). Above 1, a crash
    can send each in-flight mail twice (same Message-ID): the slower the ledger's writes, the
    more mails sit between the SMTP server's acceptance and the ledger's record (measured in
    docs/reliability.md). Raise it where MongoDB is fast and a rare duplicate is acceptable."""
