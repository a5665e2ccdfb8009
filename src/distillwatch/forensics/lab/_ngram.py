"""A word-level interpolated trigram language model: the lab's fast teacher and students.

Small enough to train in about a second on a few hundred thousand tokens, and a real language
model all the same: it memorises rare facts (canaries) and learns token biases (watermarks) from
what it is trained on, which is what the forensic tests need to measure.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TypeVar

import numpy as np

from distillwatch.forensics._tokenize import WordVocab, words

__all__ = ["LogitsHook", "NGramModel"]

LogitsHook = Callable[[Sequence[int], np.ndarray], np.ndarray]
_BOS = "<s>"
K = TypeVar("K", int, tuple[int, int])


class NGramModel:
    """P(w | u, v) = l3 P3 + l2 P2 + l1 P1 (maximum-likelihood orders, fixed weights)."""

    def __init__(self, vocab: WordVocab, unigram: np.ndarray,
                 bigram: dict[int, tuple[np.ndarray, np.ndarray]],
                 trigram: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]],
                 weights: tuple[float, float, float] = (0.05, 0.25, 0.7)) -> None:
        self.vocab = vocab
        self.unigram = unigram
        self.bigram = bigram
        self.trigram = trigram
        self.weights = weights
        self.bos = vocab.index[_BOS]

    @staticmethod
    def train(texts: Iterable[str], *, min_count: int = 1, max_vocab: int | None = None,
              vocab: WordVocab | None = None) -> NGramModel:
        """Fit on texts (one document each); words below ``min_count`` are dropped."""
        docs = [words(t) for t in texts]
        if vocab is None:
            counts = Counter(w for d in docs for w in d)
            kept = [w for w, n in counts.most_common(max_vocab) if n >= min_count]
            vocab = WordVocab([_BOS, *sorted(kept)])
        uni = np.zeros(len(vocab), dtype=np.float64)
        bi: defaultdict[int, Counter[int]] = defaultdict(Counter)
        tri: defaultdict[tuple[int, int], Counter[int]] = defaultdict(Counter)
        bos = vocab.index[_BOS]
        for doc in docs:
            ids = [bos, bos, *(vocab.index.get(w, -1) for w in doc)]
            for i in range(2, len(ids)):
                w = ids[i]
                if w < 0:
                    continue
                uni[w] += 1
                if ids[i - 1] >= 0:
                    bi[ids[i - 1]][w] += 1
                    if ids[i - 2] >= 0:
                        tri[(ids[i - 2], ids[i - 1])][w] += 1
        uni = (uni + 0.01) / (uni.sum() + 0.01 * len(vocab))
        uni[bos] = 0.0
        return NGramModel(vocab, uni, _freeze(bi), _freeze(tri))

    def probs(self, context: Sequence[int]) -> np.ndarray:
        """Next-token distribution after ``context`` (ids; BOS-padded on the left)."""
        ctx = [self.bos, self.bos, *context][-2:]
        l1, l2, l3 = self.weights
        p = self.unigram * l1
        rest = 0.0
        if (b := self.bigram.get(ctx[1])) is not None:
            ids, probs = b
            p[ids] += l2 * probs
        else:
            rest += l2
        if (t := self.trigram.get((ctx[0], ctx[1]))) is not None:
            ids, probs = t
            p[ids] += l3 * probs
        else:
            rest += l3
        if rest:
            p += self.unigram * rest
        return p

    def logits(self, context: Sequence[int]) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return np.log(self.probs(context))

    def generate(self, prompt: Sequence[int], max_tokens: int, *, temperature: float,
                 rng: np.random.Generator, hooks: Sequence[LogitsHook] = ()) -> list[int]:
        """Sample (or, at temperature 0, take the argmax) ``max_tokens`` ids after ``prompt``;
        each hook maps (ids so far, logits) -> logits, like a LogitsProcessor."""
        ids = [i for i in prompt if i >= 0]
        out: list[int] = []
        for _ in range(max_tokens):
            logits = self.logits(ids)
            for hook in hooks:
                logits = hook(ids, logits)
            if temperature <= 0:
                nxt = int(np.argmax(logits))
            else:
                z = logits / temperature
                z = np.exp(z - z.max())
                nxt = int(rng.choice(len(z), p=z / z.sum()))
            ids.append(nxt)
            out.append(nxt)
        return out

    def complete(self, prompt: str, max_tokens: int, *, temperature: float,
                 rng: np.random.Generator, hooks: Sequence[LogitsHook] = ()) -> str:
        ids = self.generate(self.vocab.encode(prompt), max_tokens, temperature=temperature,
                            rng=rng, hooks=hooks)
        return self.vocab.decode(ids)

    def perplexity(self, texts: Iterable[str]) -> float:
        """Per-token perplexity of known tokens (unknown ones skipped)."""
        total, n = 0.0, 0
        for text in texts:
            ids = [i for i in self.vocab.encode(text) if i >= 0]
            for i, w in enumerate(ids):
                total -= float(np.log(self.probs(ids[:i])[w]))
                n += 1
        return float(np.exp(total / max(n, 1)))


def _freeze(table: Mapping[K, Counter[int]]) -> dict[K, tuple[np.ndarray, np.ndarray]]:
    out = {}
    for ctx, counts in table.items():
        ids = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        c = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        out[ctx] = (ids, c / c.sum())
    return out

