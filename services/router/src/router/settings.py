from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from router.classifier.data import TRAINED_LANGUAGES
from shared.settings import BatchConsumerSettings, ClassifyTokenSettings, ServiceSettings

DEFAULT_MODEL_PATH = Path(__file__).resolve().parents[2] / "model" / "model.joblib"


class RouterSettings(BatchConsumerSettings, ClassifyTokenSettings, ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ROUTER_", extra="ignore", frozen=True)

    port: int = 8002
    group_id: str = Field(
        default="router",
        min_length=1,
        description="The consumer group of tickets.submitted (the hand-over's is"
        " <group_id>-handover); a second router on other topics (the bench) takes its own",
    )
    pipeline_depth: int = Field(
        default=1,
        ge=1,
        le=16,
        description="Batches of tickets.submitted handled while the broker still acknowledges"
        " earlier ones' events (committed in order once acknowledged); 1: each batch is"
        " committed before the next is read. 1 by default: on the embedded stack the router"
        " is bound by its own CPU, and 3 measured slower (smaller batches; docs/performance.md)",
    )
    model_path: Path = DEFAULT_MODEL_PATH
    rules_path: Path | None = None
    intent_categories_path: Path | None = Field(
        default=None, description="Intent -> category map of the suggestions (default: shipped)"
    )
    classify_directory_timeout_seconds: float = Field(
        default=0.2,
        gt=0,
        le=5,
        description="POST /v1/classify waits this long for the account's kind, then answers"
        " without it (no exemption applies)",
    )
    blas_threads: int = Field(
        default=1,
        ge=0,
        le=64,
        description="Threads of the BLAS library (numpy) in this process, 0: the library's"
        " default. One: per text the products are small, and idle BLAS threads spin on CPU the"
        " sentence encoder and the event loop need (one text's classification took twice the"
        " CPU with two on this 2-core machine)",
    )
    model_languages: tuple[str, ...] = Field(
        default=TRAINED_LANGUAGES,
        description="Languages the model reads (ISO 639-1, those of its training data); a"
        " request detected in another goes to triage with its language",
    )
    foreign_triage_below: float = Field(
        default=0.8,
        ge=0,
        le=1,
        description="For a text not in English, without a trusted pick, the model's team must"
        " be this sure, else triage",
    )
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
