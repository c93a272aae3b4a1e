"""The plain-Python tokenizer gives the ids of Hugging Face's `tokenizers` with
all-MiniLM-L6-v2's tokenizer.json (ids below were produced by `tokenizers` 0.23; at development
time all 10,603 training texts matched too)."""

from __future__ import annotations

import pytest

from router.classifier.encoder import MAX_TOKENS, VOCAB_PATH
from router.classifier.wordpiece import WordPieceTokenizer

pytestmark = pytest.mark.unit

EXPECTED = {
    "Café déjà-vu!! 2FA won't work…": [
        101, 7668, 2139, 3900, 1011, 24728, 999, 999, 1016, 7011, 2180, 1005, 1056, 2147, 1529,
        102,
    ],
    "Withdrawal of 0.5 BTC (ERC-20) pending 3h?!": [
        101, 10534, 1997, 1014, 1012, 1019, 18411, 2278, 1006, 9413, 2278, 1011, 2322, 1007,
        14223, 1017, 2232, 1029, 999, 102,
    ],
    "my\tcard\nisn't\r\nhere": [101, 2026, 4003, 3475, 1005, 1056, 2182, 102],
    "東京 transfer £100 → €": [101, 1879, 1755, 4651, 27708, 1585, 1574, 102],
    "supercalifragilisticexpialidociousxyzqqq" * 3: [101, 100, 102],
    "": [101, 102],
}  # fmt: skip


@pytest.fixture(scope="module")
def tokenizer() -> WordPieceTokenizer:
    return WordPieceTokenizer(VOCAB_PATH, MAX_TOKENS)


@pytest.mark.parametrize(("text", "ids"), EXPECTED.items())
def test_ids_match_hugging_face(tokenizer: WordPieceTokenizer, text: str, ids: list[int]) -> None:
    assert tokenizer.encode(text) == ids


def test_long_texts_are_truncated_with_a_final_sep(tokenizer: WordPieceTokenizer) -> None:
    ids = tokenizer.encode("word " * 500)
    assert len(ids) == MAX_TOKENS
    assert ids[0] == tokenizer.cls
    assert ids[-1] == tokenizer.sep
