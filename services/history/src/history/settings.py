from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from history.domain.time_rules import TimeRules
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

    # Time rules (SLA targets, automations): the shipped history/time_rules.toml by default.
    time_rules_path: Path | None = None
    timers_collection: str = "timers"
    # The scheduler process (history.scheduler_app, HTTP on 8006): how many timers a round
    # claims, how long a claim holds, how often it looks when idle.
    scheduler_batch: int = Field(default=200, ge=1, le=5000)
    scheduler_lease_seconds: float = Field(default=30.0, gt=0)
    scheduler_poll_seconds: float = Field(default=1.0, gt=0)

    def time_rules(self) -> TimeRules:
        """The rules, validated whole (a file that makes no sense stops the service)."""
        if self.time_rules_path is None:
            text = resources.files("history").joinpath("time_rules.toml").read_text()
        else:
            text = self.time_rules_path.read_text()
        return TimeRules.model_validate(tomllib.loads(text))

    @property
    def page_key(self) -> str:
        return self.page_secret.get_secret_value()

    @model_validator(mode="after")
    def _no_development_page_secret_in_production(self) -> Self:
        require_production_secret(self, self.page_key, DEVELOPMENT_PAGE_SECRET, "PAGE_SECRET")
        return self
