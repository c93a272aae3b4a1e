"""The language a request is written in, with py3langid (langid.py's maintained fork: a naive
Bayes model over byte n-grams shipped inside the wheel, numpy only, deterministic, ~35 µs a
text). Short texts are ambiguous ("2FA reset pls" reads as Czech), so a language other than
the first of MARKETS counts only when the detector is sure, or when most letters are not Latin.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from py3langid.langid import MODEL_FILE, LanguageIdentifier  # type: ignore[import-untyped]

# The languages of an exchange's markets the detector chooses among (ISO 639-1); English first.
MARKETS = (
    "en", "de", "es", "fr", "pt", "ru", "tr", "it", "nl", "pl", "uk", "ar", "zh", "ja", "ko",
    "vi", "id", "cs", "ro", "el",
)  # fmt: skip
SURE = 0.9


@dataclass(frozen=True, slots=True)
class Detected:
    language: str | None
    """ISO 639-1, or None when the text does not say (too short or too mixed)."""
    probability: float


def _latin_share(text: str) -> float:
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 1.0
    latin = sum("LATIN" in unicodedata.name(c, "") for c in letters)
    return latin / len(letters)


class LanguageDetector:
    def __init__(self, languages: tuple[str, ...] = MARKETS) -> None:
        self._identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        self._identifier.set_languages(list(languages))
        self._default = languages[0]

    def detect(self, text: str) -> Detected:
        language, probability = self._identifier.classify(text)
        code, p = str(language), float(probability)
        if p >= SURE or (code != self._default and _latin_share(text) < 0.5):
            return Detected(code, p)
        return Detected(None, p)

    def language_of(self, text: str) -> str | None:
        return self.detect(text).language
