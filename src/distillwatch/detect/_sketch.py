"""Fixed-size sketches and grouped array operations for the online detector.

Everything here works on whole batches with numpy yet keeps call-by-call semantics: a value
computed for a row depends only on the rows before it (in batch order) and on the sketch state
from earlier batches. That is what lets ``watch`` say an alert used only the calls up to it,
while scoring tens of thousands of calls per second in Python.
"""

from __future__ import annotations

import numpy as np

__all__ = ["BloomFilter", "CountMin", "Groups", "first_in_batch", "mix64", "occurrence_index",
           "pair_keys"]

_U = np.uint64
_M1 = _U(0xBF58476D1CE4E5B9)
_M2 = _U(0x94D049BB133111EB)
_GOLDEN = _U(0x9E3779B97F4A7C15)


def mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser over a uint64 array: a fast, well-spread 64-bit hash."""
    z = x.astype(_U, copy=True)
    z ^= z >> _U(30)
    z *= _M1
    z ^= z >> _U(27)
    z *= _M2
    z ^= z >> _U(31)
    return z


def pair_keys(a: np.ndarray, b: np.ndarray, salt: int) -> np.ndarray:
    """One 64-bit key per row for the pair (a, b) under ``salt`` (one salt per kind of pair)."""
    first = mix64(a.astype(np.int64).view(_U) ^ _U(salt))
    return mix64(first ^ b.astype(np.int64).view(_U) * _GOLDEN)


class BloomFilter:
    """A set of 64-bit keys in fixed memory; false positives only, at a rate it can report."""

    def __init__(self, bits_log2: int = 30, hashes: int = 3) -> None:
        self.bits_log2 = bits_log2
        self.hashes = hashes
        self.bits = np.zeros(1 << (bits_log2 - 3), dtype=np.uint8)
        self.added = 0

    def _positions(self, keys: np.ndarray) -> np.ndarray:
        mask = _U((1 << self.bits_log2) - 1)
        h1 = keys.astype(_U)
        h2 = mix64(h1 ^ _GOLDEN) | _U(1)
        steps = np.arange(self.hashes, dtype=_U)[:, None]
        return ((h1[None, :] + steps * h2[None, :]) & mask).astype(np.int64)

    def contains(self, keys: np.ndarray) -> np.ndarray:
        """Whether each key was added before (true for every added key)."""
        if len(keys) == 0:
            return np.zeros(0, dtype=bool)
        pos = self._positions(keys)
        found = (self.bits[pos >> 3] >> (pos & 7).astype(np.uint8)) & 1
        return np.asarray(found.all(axis=0), dtype=bool)

    def add(self, keys: np.ndarray) -> None:
        if len(keys) == 0:
            return
        pos = np.sort(self._positions(keys).ravel())
        byte = pos >> 3
        masks = (1 << (pos & 7)).astype(np.uint8)
        # one OR per distinct byte (ufunc.at is an order of magnitude slower)
        starts = np.flatnonzero(np.r_[True, byte[1:] != byte[:-1]])
        self.bits[byte[starts]] |= np.bitwise_or.reduceat(masks, starts)
        self.added += len(keys)

    def fill_ratio(self) -> float:
        """Share of bits set; the false-positive rate is about this to the power ``hashes``."""
        return float(np.unpackbits(self.bits).mean()) if len(self.bits) else 0.0

    @property
    def nbytes(self) -> int:
        return int(self.bits.nbytes)


class CountMin:
    """Approximate counts of 64-bit keys in fixed memory (never under the true count)."""

    def __init__(self, width_log2: int = 22, depth: int = 2) -> None:
        self.width_log2 = width_log2
        self.table = np.zeros((depth, 1 << width_log2), dtype=np.int32)

    def _columns(self, keys: np.ndarray) -> list[np.ndarray]:
        mask = _U((1 << self.width_log2) - 1)
        h = keys.astype(_U)
        out = []
        for row in range(self.table.shape[0]):
            h = mix64(h ^ _U(row + 1))
            out.append((h & mask).astype(np.int64))
        return out

    def estimate(self, keys: np.ndarray) -> np.ndarray:
        if len(keys) == 0:
            return np.zeros(0, dtype=np.int64)
        cols = self._columns(keys)
        est = self.table[0, cols[0]].astype(np.int64)
        for row in range(1, len(cols)):
            est = np.minimum(est, self.table[row, cols[row]])
        return est

    def add(self, keys: np.ndarray) -> None:
        for row, col in enumerate(self._columns(keys)):
            cells, counts = np.unique(col, return_counts=True)
            self.table[row, cells] += counts.astype(np.int32)

    @property
    def nbytes(self) -> int:
        return int(self.table.nbytes)


def first_in_batch(keys: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """True at the first row (in batch order) of each key among the rows where ``mask`` holds."""
    out = np.zeros(len(keys), dtype=bool)
    rows = np.flatnonzero(mask)
    if len(rows):
        _, first = np.unique(keys[rows], return_index=True)
        out[rows[first]] = True
    return out


def occurrence_index(keys: np.ndarray) -> np.ndarray:
    """How many earlier rows in the batch carry the same key (0 for a key's first row)."""
    n = len(keys)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    starts = np.r_[True, sorted_keys[1:] != sorted_keys[:-1]]
    start_pos = np.flatnonzero(starts)
    lengths = np.diff(np.r_[start_pos, n])
    within = np.arange(n) - np.repeat(start_pos, lengths)
    out = np.empty(n, dtype=np.int64)
    out[order] = within
    return out


class Groups:
    """Rows of one batch grouped by an integer id (e.g. the account's slot), order kept.

    Cumulative operations return, for every row, the value over its group's rows up to and
    including it, so per-row state is exact without a Python loop.
    """

    def __init__(self, ids: np.ndarray) -> None:
        self.ids = ids
        self.n = len(ids)
        self.order = np.argsort(ids, kind="stable")
        sorted_ids = ids[self.order]
        self.starts = np.r_[True, sorted_ids[1:] != sorted_ids[:-1]] if self.n else \
            np.zeros(0, dtype=bool)
        self.start_pos = np.flatnonzero(self.starts)
        self.lengths = np.diff(np.r_[self.start_pos, self.n])
        #: the group id of each group, in sorted order
        self.unique = sorted_ids[self.start_pos]
        #: the batch row that is each group's last
        self.last_row = self.order[self.start_pos + self.lengths - 1]

    def cumsum(self, values: np.ndarray) -> np.ndarray:
        """Per row, the sum of its group's values up to and including it (1-D or 2-D)."""
        if self.n == 0:
            return values.copy()
        ordered = values[self.order]
        total = np.cumsum(ordered, axis=0)
        before = np.zeros_like(total[: len(self.start_pos)])
        inner = self.start_pos > 0
        before[inner] = total[self.start_pos[inner] - 1]
        total -= np.repeat(before, self.lengths, axis=0)
        out = np.empty_like(total)
        out[self.order] = total
        return out

    def cummax(self, values: np.ndarray) -> np.ndarray:
        """Per row, the maximum of its group's values up to and including it (1-D, >= 0)."""
        if self.n == 0:
            return values.copy()
        ordered = values[self.order].astype(np.float64)
        span = float(ordered.max()) + 1.0 if len(ordered) else 1.0
        group_rank = np.repeat(np.arange(len(self.start_pos), dtype=np.float64), self.lengths)
        shifted = np.maximum.accumulate(ordered + group_rank * span) - group_rank * span
        out = np.empty_like(shifted)
        out[self.order] = shifted
        return out

    def previous(self, values: np.ndarray, fill: np.ndarray) -> np.ndarray:
        """Per row, the value of the previous row of its group (``fill`` at a group's first)."""
        ordered = values[self.order]
        prev = np.empty_like(ordered)
        if self.n:
            prev[1:] = ordered[:-1]
            prev[self.start_pos] = fill[self.order][self.start_pos]
        out = np.empty_like(prev)
        out[self.order] = prev
        return out
