"""An open word vocabulary for the lab's transformer students: words, and spelled-out words.

A real student's tokenizer can write any string; a closed word list cannot, so an invented
canary name or a five-digit value would be untrainable and the canary test void by design.
Words outside the list are spelled one character token at a time and closed with an
end-of-word token, so a student can learn, and later say, a word it saw only in our outputs.
The word list comes from the student's base corpus, never from our keys.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from distillwatch.forensics._tokenize import UNKNOWN, WordVocab, detokenize, words

__all__ = ["SPELLING", "OpenVocab", "frequent_words"]

#: Characters a spelled word may hold (what ``words`` yields, lower-cased).
SPELLING = "abcdefghijklmnopqrstuvwxyz0123456789'"
_CHAR = "\u2581"  # prefix of a character token
_END = "\u2581</w>"  # closes a spelled word


def frequent_words(texts: Iterable[str], n: int) -> list[str]:
    """The ``n`` most frequent words of ``texts`` (ties broken by the word), sorted.

    The list reads the texts only, never our keys, so under the null (texts without our
    marks) a served canary and its decoys stay exchangeable.
    """
    counts = Counter(w for t in texts for w in words(t))
    return sorted(w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n])


class OpenVocab(WordVocab):
    """``WordVocab`` plus one token per spelling character and an end-of-word token."""

    def __init__(self, tokens: Sequence[str]) -> None:
        extra = [f"{_CHAR}{c}" for c in SPELLING] + [_END]
        base = [t for t in tokens if not t.startswith(_CHAR)]
        super().__init__([*base, *extra])
        self.n_words = len(base)
        self.end = self.index[_END]

    @staticmethod
    def build(texts: Iterable[str], size: int, first: str = "<s>") -> OpenVocab:
        """``first`` plus the ``size - 1`` most frequent words (ties by the word)."""
        return OpenVocab([first, *(w for w in frequent_words(texts, size - 1) if w != first)])

    def encode(self, text: str) -> list[int]:
        out: list[int] = []
        for w in words(text):
            i = self.index.get(w)
            if i is not None:
                out.append(i)
                continue
            spelled = [self.index.get(f"{_CHAR}{c}") for c in w]
            if any(s is None for s in spelled):
                out.append(UNKNOWN)  # a character we do not spell (rare punctuation)
                continue
            out.extend(s for s in spelled if s is not None)
            out.append(self.end)
        return out

    def decode(self, ids: Iterable[int]) -> str:
        out: list[str] = []
        spelling: list[str] = []
        for i in ids:
            if i == UNKNOWN or not 0 <= i < len(self.tokens):
                continue
            if i >= self.n_words:
                if i == self.end:
                    if spelling:
                        out.append("".join(spelling))
                    spelling = []
                else:
                    spelling.append(self.tokens[i][len(_CHAR):])
                continue
            if spelling:  # a spelled word the model did not close
                out.append("".join(spelling))
                spelling = []
            out.append(self.tokens[i])
        if spelling:
            out.append("".join(spelling))
        return detokenize(out)
