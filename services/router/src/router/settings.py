from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import BatchConsumerSettings, ServiceSettings

DEFAULT_MODEL_PATH = Path(__file__).resolve().parents[2] / "model" / "model.joblib"


class RouterSettings(BatchConsumerSettings, ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ROUTER_", extra="ignore", frozen=True)

    port: int = 8002
    model_path: Path = DEFAULT_MODEL_PATH
    rules_path: Path | None = None
    reroute_confidence: float | None = Field(
        default=None, ge=0, le=1, description="Override the calibrated default (decision.py)"
    )
    keep_floor: float | None = Field(default=None, ge=0, le=1)
    triage_below: float | None = Field(default=None, ge=0, le=1)
    embedding_gate: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Texts the TF-IDF model is less sure of than this are re-scored with the"
        " sentence encoder; lower is faster and less accurate, 0 is TF-IDF alone (model card)",
    )
