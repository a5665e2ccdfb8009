"""Keyed green-list watermark (Kirchenbauer et al. 2023) with a per-account key.

For a context of the previous 1-2 token ids, the key splits the vocabulary into a green share
``gamma`` and the rest; generation adds ``delta`` to green logits. Greenness of (context, token)
is a keyed hash, so it can be computed for one pair (detection) or the whole vocabulary (the
logits processor) at the same cost per token.

Detection counts each distinct (context, token) pair once: a model repeats its own phrases, and
counting repeats makes an unmarked model look marked (the null would fail).
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from distillwatch.errors import ConfigError
from distillwatch.forensics._keys import MarkKey
from distillwatch.forensics._stats import binomial_test

__all__ = [
    "GreenListLogitsProcessor",
    "ModeScore",
    "WatermarkScheme",
    "WatermarkScore",
    "green_mask",
    "is_green",
    "mode_test",
    "score_tokens",
]

_M64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_C1, _C2 = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB


@dataclass(frozen=True)
class WatermarkScheme:
    """Parameters shared by generation and detection (stored in the case file)."""

    gamma: float = 0.25
    delta: float = 2.0
    context: int = 1

    def __post_init__(self) -> None:
        if not 0.0 < self.gamma < 1.0:
            raise ConfigError(f"watermark gamma must be in (0, 1), got {self.gamma}")
        if self.context not in (1, 2):
            raise ConfigError(f"watermark context must be 1 or 2 tokens, got {self.context}")

    @property
    def threshold(self) -> int:
        return int(self.gamma * (1 << 53))


@lru_cache(maxsize=65536)
def _context_seed(key: bytes, context: tuple[int, ...]) -> int:
    msg = b"ctx" + b"".join(t.to_bytes(8, "big", signed=True) for t in context)
    return int.from_bytes(hmac.new(key, msg, hashlib.sha256).digest()[:8], "big")


def _mix_int(x: int) -> int:
    z = (x + _GOLDEN) & _M64
    z = ((z ^ (z >> 30)) * _C1) & _M64
    z = ((z ^ (z >> 27)) * _C2) & _M64
    return z ^ (z >> 31)


def _mix_array(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        z = x + np.uint64(_GOLDEN)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(_C1)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(_C2)
        return z ^ (z >> np.uint64(31))


def is_green(key: MarkKey, scheme: WatermarkScheme, context: Sequence[int], token: int) -> bool:
    """Whether ``token`` is green after ``context`` (the last ``scheme.context`` ids)."""
    seed = _context_seed(key.key, tuple(int(t) for t in context[-scheme.context:]))
    return (_mix_int(seed ^ (int(token) & _M64)) >> 11) < scheme.threshold


def green_mask(key: MarkKey, scheme: WatermarkScheme, context: Sequence[int],
               vocab_size: int) -> np.ndarray:
    """Boolean green mask over the vocabulary after ``context``."""
    seed = np.uint64(_context_seed(key.key, tuple(int(t) for t in context[-scheme.context:])))
    ids = np.arange(vocab_size, dtype=np.uint64)
    return (_mix_array(seed ^ ids) >> np.uint64(11)) < np.uint64(scheme.threshold)


class GreenListLogitsProcessor:
    """A ``transformers``-style LogitsProcessor: ``(input_ids, scores) -> scores``.

    Duck-typed: ``input_ids`` is (batch, seq) and ``scores`` (batch, vocab), as torch tensors
    or numpy arrays; transformers itself is not needed. Rows with fewer than ``context`` ids
    are left alone.
    """

    def __init__(self, key: MarkKey, scheme: WatermarkScheme | None = None) -> None:
        if key.purpose != "watermark":
            raise ConfigError(f"the watermark needs a 'watermark' key, got {key.purpose!r}")
        self.key = key
        self.scheme = scheme or WatermarkScheme()

    def bias(self, context: Sequence[int], vocab_size: int) -> np.ndarray:
        """The additive bias for one row: ``delta`` on green ids, 0 elsewhere."""
        if len(context) < self.scheme.context:
            return np.zeros(vocab_size, dtype=np.float32)
        mask = green_mask(self.key, self.scheme, context, vocab_size)
        return mask.astype(np.float32) * np.float32(self.scheme.delta)

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        rows = input_ids.tolist()
        if rows and not isinstance(rows[0], list):
            rows = [rows]
        vocab = int(scores.shape[-1])
        bias = np.stack([self.bias(r, vocab) for r in rows])
        if scores.ndim == 1:
            bias = bias[0]
        if hasattr(scores, "new_tensor"):  # torch
            return scores + scores.new_tensor(bias)
        return scores + bias.astype(scores.dtype, copy=False)


@dataclass(frozen=True)
class WatermarkScore:
    """Green share over distinct scored (context, token) pairs, with its exact p-value.

    Null: the text was produced without knowledge of this key, so each distinct pair is green
    with probability gamma independently (the keyed hash is pseudo-random).
    """

    pairs: int
    green: int
    gamma: float
    z: float
    p_value: float


def score_tokens(key: MarkKey, scheme: WatermarkScheme, sequences: Iterable[Sequence[int]],
                 ignore: frozenset[int] = frozenset()) -> WatermarkScore:
    """Score every distinct (context, token) pair of the sequences once."""
    c = scheme.context
    seen: set[tuple[int, ...]] = set()
    for seq in sequences:
        ids = [int(x) for x in seq]
        for i in range(c, len(ids)):
            pair = tuple(ids[i - c:i + 1])
            if not ignore.intersection(pair):
                seen.add(pair)
    green = sum(is_green(key, scheme, p[:-1], p[-1]) for p in seen)
    n = len(seen)
    g = scheme.gamma
    z = (green - g * n) / math.sqrt(n * g * (1 - g)) if n else 0.0
    return WatermarkScore(n, green, g, z, binomial_test(green, n, g) if n else 1.0)


@dataclass(frozen=True)
class ModeScore:
    """Per-context mode test: how many contexts' most frequent next token is green.

    Null: the suspect's next-token law does not depend on this key, so each context's mode
    (ties broken by smallest id, which ignores the key) is green with probability gamma.
    """

    contexts: int
    green_modes: int
    gamma: float
    p_value: float


def mode_test(key: MarkKey, scheme: WatermarkScheme,
              samples: Iterable[tuple[Sequence[int], Sequence[int]]]) -> ModeScore:
    """``samples``: (context ids, next ids sampled after it) per distinct context."""
    contexts: dict[tuple[int, ...], Counter[int]] = {}
    for context, nexts in samples:
        ctx = tuple(context[-scheme.context:])
        if len(ctx) == scheme.context and nexts:
            contexts.setdefault(ctx, Counter()).update(nexts)
    green = 0
    for ctx, counts in contexts.items():
        top = max(counts.values())
        mode = min(t for t, n in counts.items() if n == top)
        green += is_green(key, scheme, ctx, mode)
    n = len(contexts)
    return ModeScore(n, green, scheme.gamma, binomial_test(green, n, scheme.gamma) if n else 1.0)
