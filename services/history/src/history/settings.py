from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class HistorySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="HISTORY_", extra="ignore", frozen=True)

    port: int = 8004
    database: str = "history"
    collection: str = "requests"
    batch_max_records: int = 500
    batch_timeout_ms: int = 200  # the longest an idle poll waits; data returns at once
    page_size: int = 20  # requests per page of the My-activities page
    # The session cookie's Secure flag; default: on in production, off in development (http).
    session_cookie_secure: bool | None = None
