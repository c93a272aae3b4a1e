from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from shared.settings import BatchConsumerSettings, ServiceSettings


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
