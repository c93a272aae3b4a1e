from __future__ import annotations

from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from shared.settings import BatchConsumerSettings, ServiceSettings, require_production_secret

DEVELOPMENT_PAGE_SECRET = "development-only-page-secret"  # noqa: S105
MIB = 1024 * 1024


class HistorySettings(BatchConsumerSettings, ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="HISTORY_", extra="ignore", frozen=True)

    port: int = 8004
    database: str = "history"
    collection: str = "requests"
    page_size: int = 20  # requests per page of the My-activities page
    # Where customers and agents download a request's files (the intake's attachment route).
    intake_public_url: str = "http://127.0.0.1:8001"
    # The session cookie's Secure flag; default: on in production, off in development (http).
    session_cookie_secure: bool | None = None
    # Where the pages send what customers write: the intake's API (the only write entrance).
    intake_url: str = "http://127.0.0.1:8001"
    intake_timeout_seconds: float = Field(default=30.0, gt=0)
    # Keys the pages' CSRF tokens (history.pages.session); 32+ characters in production.
    page_secret: SecretStr = SecretStr(DEVELOPMENT_PAGE_SECRET)
    page_upload_max_bytes: int = Field(
        default=101 * MIB, ge=MIB, description="A page's form with files (the intake's limits)"
    )

    @property
    def page_key(self) -> str:
        return self.page_secret.get_secret_value()

    @model_validator(mode="after")
    def _no_development_page_secret_in_production(self) -> Self:
        require_production_secret(self, self.page_key, DEVELOPMENT_PAGE_SECRET, "PAGE_SECRET")
        return self
