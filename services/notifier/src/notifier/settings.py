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
    smtp_messages_per_connection: int = Field(default=100, ge=1)
    """Mails sent over one SMTP connection before it is closed (1: a connection per mail)."""
    smtp_idle_seconds: float = Field(default=30.0, ge=0)
    """An idle SMTP connection older than this is not reused (servers drop idle ones)."""
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
    concurrency: int = Field(default=4, ge=1)
    """Requests whose mails are sent at once (one request's always in order), each sender over
    its own SMTP connection. A sender waits for its mail's ledger mark before its next send, so
    a crash (SIGKILL) can send at most this many mails twice, each once more, with the same
    Message-ID (mail clients fold it); 1 leaves at most the one mail in flight. 4 by default:
    the senders share the ledger's writes (group commit), which is what bounds the rate when
    the store is slow (the embedded stack) or the SMTP relay far, at a window of four mails
    (docs/reliability.md)."""
