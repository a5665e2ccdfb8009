"""A word-level tokenizer with a fixed vocabulary: the lab models' tokens and the detector's.

Detection must tokenize a suspect's text the way our generator did; for models with a
subword tokenizer, pass that tokenizer's ``encode`` instead (any ``str -> list[int]``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path

import orjson

from distillwatch.errors import InputError

__all__ = ["UNKNOWN", "WordVocab", "detokenize", "words"]

UNKNOWN = -1
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[^\sa-z0-9]")
_NO_SPACE_BEFORE = set(".,;:!?)%'")


def words(text: str) -> list[str]:
    """Lower-cased word and punctuation tokens of NFKC-normalised text."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).lower())


def detokenize(tokens: Iterable[str]) -> str:
    out: list[str] = []
    for tok in tokens:
        if out and tok not in _NO_SPACE_BEFORE:
            out.append(" ")
        out.append(tok)
    return "".join(out)


class WordVocab:
    """Token strings in id order; unknown words encode to :data:`UNKNOWN`."""

    def __init__(self, tokens: Sequence[str]) -> None:
        self.tokens = list(tokens)
        self.index = {t: i for i, t in enumerate(self.tokens)}
        if len(self.index) != len(self.tokens):
            raise ValueError("vocabulary has repeated tokens")

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, text: str) -> list[int]:
        return [self.index.get(w, UNKNOWN) for w in words(text)]

    def decode(self, ids: Iterable[int]) -> str:
        return detokenize(self.tokens[i] for i in ids if i != UNKNOWN)

    def save(self, path: Path) -> None:
        path.write_bytes(orjson.dumps({"format": "distillwatch-word-vocab/1",
                                       "tokens": self.tokens}))

    @staticmethod
    def load(path: Path) -> WordVocab:
        try:
            obj = orjson.loads(path.read_bytes())
            return WordVocab(obj["tokens"])
        except FileNotFoundError:
            raise InputError("vocabulary file does not exist", path=str(path)) from None
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise InputError(f"not a word vocabulary ({exc})", path=str(path),
                             field="tokens") from None
