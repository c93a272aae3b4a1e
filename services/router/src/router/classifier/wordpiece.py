"""BERT's uncased WordPiece tokenizer in plain Python (standard library only).

Follows Hugging Face's `BertNormalizer(lowercase=True)` + `BertPreTokenizer` + `WordPiece` as
configured in all-MiniLM-L6-v2's tokenizer.json; a test pins its ids against ids the `tokenizers`
package produced. Done by hand so that serving does not pull in `tokenizers` and, through it,
huggingface-hub and an HTTP stack; it runs only on the few texts that get embedded.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

MAX_WORD_CHARS = 100  # longer words become [UNK], as in WordPiece


def _is_punctuation(char: str) -> bool:
    code = ord(char)
    if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def _is_cjk(code: int) -> bool:
    return (
        0x4E00 <= code <= 0x9FFF
        or 0x3400 <= code <= 0x4DBF
        or 0x20000 <= code <= 0x2A6DF
        or 0x2A700 <= code <= 0x2B73F
        or 0x2B740 <= code <= 0x2B81F
        or 0x2B820 <= code <= 0x2CEAF
        or 0xF900 <= code <= 0xFAFF
        or 0x2F800 <= code <= 0x2FA1F
    )


def normalize(text: str) -> str:
    """Clean control characters, space out CJK ideographs, strip accents, lowercase."""
    chars: list[str] = []
    for char in text:
        code = ord(char)
        if char in "\t\n\r" or unicodedata.category(char) == "Zs":
            chars.append(" ")
        elif code in (0, 0xFFFD) or unicodedata.category(char) in ("Cc", "Cf"):
            continue
        elif _is_cjk(code):
            chars.append(f" {char} ")
        else:
            chars.append(char)
    decomposed = unicodedata.normalize("NFD", "".join(chars))
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn").lower()


def pre_tokenize(text: str) -> list[str]:
    """Whitespace-separated words, each punctuation character a word of its own."""
    words: list[str] = []
    for chunk in text.split():
        current = ""
        for char in chunk:
            if _is_punctuation(char):
                if current:
                    words.append(current)
                    current = ""
                words.append(char)
            else:
                current += char
        if current:
            words.append(current)
    return words


class WordPieceTokenizer:
    """Text -> token ids with [CLS] and [SEP], truncated to `max_tokens` in all."""

    def __init__(self, vocab_path: Path, max_tokens: int = 128) -> None:
        tokens = vocab_path.read_text(encoding="utf-8").splitlines()
        self.vocab = {token: i for i, token in enumerate(tokens)}
        self.unk = self.vocab["[UNK]"]
        self.cls = self.vocab["[CLS]"]
        self.sep = self.vocab["[SEP]"]
        self.max_tokens = max_tokens
        self._cache: dict[str, list[int]] = {}

    def word_ids(self, word: str) -> list[int]:
        """Greedy longest-match-first pieces; a word with an unmatched rest is one [UNK]."""
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        ids: list[int] = []
        start = 0
        while start < len(word) and len(word) <= MAX_WORD_CHARS:
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                found = self.vocab.get(piece)
                if found is not None:
                    ids.append(found)
                    break
                end -= 1
            else:
                break  # no piece matched at `start`
            start = end
        result = ids if start == len(word) else [self.unk]
        if len(self._cache) < 200_000:
            self._cache[word] = result
        return result

    def encode(self, text: str) -> list[int]:
        ids = [self.cls]
        for word in pre_tokenize(normalize(text)):
            ids.extend(self.word_ids(word))
            if len(ids) >= self.max_tokens - 1:
                break
        return [*ids[: self.max_tokens - 1], self.sep]
