"""Exact tests behind every forensic figure, each with its null hypothesis stated.

All one-sided: small p means "more of our marks than chance allows". The exact tests are
conservative for discrete counts (P(p <= a) <= a under the null); ``u`` turns one into a
randomised p-value, exactly uniform under the null, which is what a KS check of uniformity needs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = [
    "CanarySlot",
    "binomial_test",
    "canary_test",
    "graded_canary_test",
    "holm",
    "hypergeometric_test",
    "two_proportion_test",
]


@dataclass(frozen=True)
class CanarySlot:
    """One serving slot: the served canary and its decoys, drawn the same way by the key."""

    served_hit: bool
    decoy_hits: int
    n_decoys: int

    def __post_init__(self) -> None:
        if self.n_decoys < 1 or not 0 <= self.decoy_hits <= self.n_decoys:
            raise ValueError(f"bad slot counts: {self}")


def _tail(upper: float, point: float, u: float | None) -> float:
    """P(T >= t) = upper, or the randomised P(T > t) + u * P(T = t)."""
    if u is None:
        return min(1.0, max(0.0, upper))
    return min(1.0, max(0.0, upper - point + u * point))


def binomial_test(k: int, n: int, p: float, u: float | None = None) -> float:
    """P(X >= k) for X ~ Binomial(n, p): exact (scipy's regularised incomplete beta)."""
    if not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return 1.0
    return _tail(float(stats.binom.sf(k - 1, n, p)), float(stats.binom.pmf(k, n, p)), u)


def hypergeometric_test(hits_in_served: int, served: int, hits: int, total: int,
                        u: float | None = None) -> float:
    """P(X >= x), X ~ Hypergeometric: ``hits`` reproduced of ``total`` canaries, ``served`` of
    them served at random. Null: which canaries were served is independent of reproduction."""
    dist = stats.hypergeom(total, served, hits)
    return _tail(float(dist.sf(hits_in_served - 1)), float(dist.pmf(hits_in_served)), u)


def graded_law(slots: Sequence[Sequence[int]]) -> np.ndarray:
    """Exact null law of the served canaries' summed scores.

    Each slot lists the scores of its candidates (any whole numbers >= 0, the served one
    first). The served canary was picked uniformly among the slot's candidates by the key;
    under the null that pick is independent of how the suspect answered each candidate's
    probe, so given the slot's scores the served one's score is a uniform draw from them.
    Slots are independent, so the law of the sum is the convolution of the slots' laws.
    """
    law = np.ones(1)
    for scores in slots:
        if len(scores) < 2 or min(scores) < 0:
            raise ValueError(f"a slot needs at least two candidates with scores >= 0: {scores}")
        if max(scores) == 0:
            continue
        step = np.bincount(np.asarray(scores, dtype=np.int64)) / len(scores)
        law = np.convolve(law, step)
    return law


def graded_canary_test(slots: Sequence[Sequence[int]], u: float | None = None) -> float:
    """p-value of the served-vs-decoy test on graded recall: P(sum of served scores >= observed)
    under :func:`graded_law`. With 0/1 scores it is exactly :func:`canary_test`."""
    observed = sum(int(scores[0]) for scores in slots)
    law = graded_law(slots)
    upper = float(law[observed:].sum()) if observed < len(law) else 0.0
    point = float(law[observed]) if observed < len(law) else 0.0
    return _tail(upper, point, u)


def canary_test(slots: Sequence[CanarySlot], u: float | None = None) -> float:
    """p-value of the served-vs-decoy canary test (conditional on per-slot reproduction counts).

    Null: the suspect never saw our served canaries, so a served canary is no more likely to be
    reproduced than a decoy drawn the same way. Given r of a slot's candidates reproduced, the
    served one is among them with chance r / (1 + n_decoys): a Poisson-binomial over slots,
    the 0/1 case of :func:`graded_canary_test`.
    """
    return graded_canary_test(
        [[int(s.served_hit)] + [1] * s.decoy_hits + [0] * (s.n_decoys - s.decoy_hits)
         for s in slots], u)


def two_proportion_test(x1: int, n1: int, x2: int, n2: int) -> float:
    """One-sided pooled z-test of p1 > p2 (normal approximation; for corroboration only)."""
    if n1 == 0 or n2 == 0:
        return 1.0
    pooled = (x1 + x2) / (n1 + n2)
    var = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if var == 0.0:
        return 1.0 if x1 / n1 <= x2 / n2 else 0.0
    z = (x1 / n1 - x2 / n2) / math.sqrt(var)
    return float(stats.norm.sf(z))


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (family-wise error control), in input order."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted
