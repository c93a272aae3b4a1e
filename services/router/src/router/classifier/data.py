"""Labelled request texts from CSV files (standard library only)."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parents[3] / "data"
BANKING77_CSV = DATA_DIR / "banking77_train.csv"
CRYPTO_CSV = DATA_DIR / "crypto_examples.csv"
CRYPTO_EXTRA_CSV = DATA_DIR / "crypto_intents_extra.csv"
DEV_HOLDOUT_CSV = DATA_DIR / "dev_holdout.csv"
MULTILINGUAL_TRAINING_CSVS = (
    DATA_DIR / "multilingual_train_a.csv",
    DATA_DIR / "multilingual_train_b.csv",
)
TRAINING_FILES: tuple[Path, ...] = (
    BANKING77_CSV,
    CRYPTO_CSV,
    CRYPTO_EXTRA_CSV,
    *MULTILINGUAL_TRAINING_CSVS,
)
TRAINED_LANGUAGES = ("en", "de", "es", "fr", "pt", "ru", "tr")
"""The languages of the training files (ISO 639-1): the model reads these."""
# Written by hand for evaluation only, never trained on (README, MODEL_CARD.md).
CRYPTO_DEV_CSV = DATA_DIR / "crypto_handwritten_dev.csv"
LONG_TEXTS_DEV_CSV = DATA_DIR / "long_texts_dev.csv"
MULTILINGUAL_DEV_CSV = DATA_DIR / "multilingual_dev.csv"

INTENT_COLUMNS = ("intent", "category")


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    team: str
    intent: str | None
    source: str
    """Where the row comes from: the CSV's `source` column, else the file's stem (e.g.
    "banking77_train" or "crypto_examples")."""


def read_examples(path: Path) -> list[Example]:
    """Rows of a CSV with columns `text` and `team`, optionally `intent` (or `category`,
    BANKING77's name for it) and `source`; any other column is ignored. Texts may span lines.
    """
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        columns = set(reader.fieldnames or ())
        missing = {"text", "team"} - columns
        if missing:
            raise ValueError(f"{path}: missing column(s) {sorted(missing)}")
        intent_column = next((c for c in INTENT_COLUMNS if c in columns), None)
        return [
            Example(
                text=row["text"],
                team=row["team"].strip(),
                intent=row[intent_column].strip() if intent_column else None,
                source=row.get("source") or path.stem,
            )
            for row in reader
        ]


def load_examples(paths: Iterable[Path] = TRAINING_FILES) -> list[Example]:
    """The training data: every file in order, each row labelled with an intent."""
    examples = [e for path in paths for e in read_examples(path)]
    unlabelled = sum(e.intent is None for e in examples)
    if unlabelled:
        raise ValueError(f"{unlabelled} training rows have no intent")
    return examples


def without(examples: Sequence[Example], removed: Iterable[Example]) -> list[Example]:
    """`examples` less one occurrence of each row of `removed` (same text, intent and team)."""
    pending = Counter((e.text, e.intent, e.team) for e in removed)
    kept: list[Example] = []
    for e in examples:
        key = (e.text, e.intent, e.team)
        if pending[key]:
            pending[key] -= 1
        else:
            kept.append(e)
    missing = sum(pending.values())
    if missing:
        raise ValueError(f"{missing} rows to remove are not in the examples")
    return kept


def write_examples(path: Path, examples: Iterable[Example]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("text", "intent", "team", "source"))
        writer.writerows((e.text, e.intent or "", e.team, e.source) for e in examples)
