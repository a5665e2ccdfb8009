"""Pure metric functions for the detection benchmark.

Every function here takes plain sequences or numpy arrays and returns numbers (or ``None``
when the figure is undefined for the input, e.g. AUROC without any positive). Nothing reads
files; the runner does that.

Conventions: a higher score means more likely harvesting; an account is predicted positive
at threshold ``t`` when ``score >= t``.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Collection, Hashable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "OperatingPoint",
    "adjusted_rand_index",
    "auroc",
    "average_ranks",
    "calls_before_time",
    "calls_to_first_alert",
    "largest_shared_cluster",
    "percentile",
    "share",
    "singletons",
    "tpr_at_fpr",
]

ArrayLike = Sequence[float] | npt.NDArray[np.floating] | npt.NDArray[np.integer]
BoolLike = Sequence[bool] | npt.NDArray[np.bool_]


def share(numerator: float, denominator: float) -> float | None:
    """``numerator / denominator``, or ``None`` when the denominator is zero."""
    return None if denominator == 0 else numerator / denominator


def average_ranks(values: ArrayLike) -> npt.NDArray[np.float64]:
    """1-based ranks of ``values``; tied values all get the mean of the ranks they span."""
    x = np.asarray(values, dtype=np.float64)
    n = x.size
    if n == 0:
        return np.zeros(0, dtype=np.float64)
    order = np.argsort(x, kind="mergesort")
    sorted_x = x[order]
    # Start index of each run of equal values, and the run lengths.
    starts = np.flatnonzero(np.r_[True, sorted_x[1:] != sorted_x[:-1]])
    lengths = np.diff(np.r_[starts, n])
    run_rank = starts + (lengths + 1) / 2.0  # mean of ranks starts+1 .. starts+lengths
    ranks = np.empty(n, dtype=np.float64)
    ranks[order] = np.repeat(run_rank, lengths)
    return ranks


def _scores_and_labels(scores: ArrayLike, positive: BoolLike
                       ) -> tuple[np.ndarray, np.ndarray, int, int] | None:
    """Arrays and class sizes; ``None`` when either class is empty."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(positive, dtype=bool)
    if s.shape != y.shape:
        raise ValueError("scores and positive must have the same length")
    n_pos = int(y.sum())
    n_neg = int(y.size - n_pos)
    if n_pos == 0 or n_neg == 0:
        return None
    return s, y, n_pos, n_neg


def auroc(scores: ArrayLike, positive: BoolLike) -> float | None:
    """Area under the ROC curve in its Mann-Whitney form.

    The probability that a random positive scores above a random negative, counting ties as
    one half. ``None`` when there is no positive or no negative.
    """
    checked = _scores_and_labels(scores, positive)
    if checked is None:
        return None
    s, y, n_pos, n_neg = checked
    if np.isnan(s).any():
        raise ValueError("scores contain NaN")
    ranks = average_ranks(s)
    u = float(ranks[y].sum()) - n_pos * (n_pos + 1) / 2.0
    return u / (n_pos * n_neg)


@dataclass(frozen=True)
class OperatingPoint:
    """The best operating point on a score whose false-positive rate stays within a target.

    ``threshold`` is the smallest score flagged (``score >= threshold``); ``math.inf`` means
    flagging nothing. ``max_false_positives`` is how many negatives the target allows at all
    (``floor(target * n_negative)``), which is 0 for 0.1% of fewer than 1,000 negatives.
    """

    target_fpr: float
    tpr: float
    fpr: float
    threshold: float
    true_positives: int
    false_positives: int
    max_false_positives: int
    n_positive: int
    n_negative: int


def tpr_at_fpr(scores: ArrayLike, positive: BoolLike, target_fpr: float) -> OperatingPoint | None:
    """The highest TPR over thresholds on ``scores`` whose FPR does not exceed ``target_fpr``.

    Thresholds are the distinct score values (and "flag nothing"), so tied scores are always
    flagged together. ``None`` when there is no positive or no negative.
    """
    checked = _scores_and_labels(scores, positive)
    if checked is None:
        return None
    s, y, n_pos, n_neg = checked
    max_fp = math.floor(target_fpr * n_neg + 1e-9)
    order = np.argsort(-s, kind="mergesort")
    sorted_s = s[order]
    sorted_y = y[order]
    tp_cum = np.cumsum(sorted_y)
    fp_cum = np.cumsum(~sorted_y)
    # The last index of each run of equal scores: a threshold at that score flags the run.
    ends = np.flatnonzero(np.r_[sorted_s[1:] != sorted_s[:-1], True])
    best_tp, best_fp, best_t = 0, 0, math.inf
    for end in ends:
        fp = int(fp_cum[end])
        if fp > max_fp:
            break  # fp only grows as the threshold falls
        tp = int(tp_cum[end])
        if tp > best_tp:
            best_tp, best_fp, best_t = tp, fp, float(sorted_s[end])
    return OperatingPoint(
        target_fpr=target_fpr,
        tpr=best_tp / n_pos,
        fpr=best_fp / n_neg,
        threshold=best_t,
        true_positives=best_tp,
        false_positives=best_fp,
        max_false_positives=max_fp,
        n_positive=n_pos,
        n_negative=n_neg,
    )


def singletons(labels: Iterable[str | None], prefix: str = "\x00singleton") -> list[str]:
    """Replace empty or missing group labels with a fresh label each (a one-member group)."""
    out: list[str] = []
    for i, label in enumerate(labels):
        out.append(label if label else f"{prefix}:{i}")
    return out


def _pairs(n: int | np.integer) -> int:
    k = int(n)
    return k * (k - 1) // 2


def adjusted_rand_index(truth: Sequence[Hashable], predicted: Sequence[Hashable]) -> float:
    """Adjusted Rand index (Hubert and Arabie) of two partitions given as label sequences.

    Computed from the contingency table. 1 for identical partitions up to relabeling, about 0
    for independent ones, and 1 by convention when both partitions are trivial in the same way
    (all singletons, or everything in one group).
    """
    if len(truth) != len(predicted):
        raise ValueError("truth and predicted must have the same length")
    n = len(truth)
    if n < 2:
        return 1.0
    cells = Counter(zip(truth, predicted, strict=True))
    rows = Counter(truth)
    cols = Counter(predicted)
    index = sum(_pairs(v) for v in cells.values())
    sum_rows = sum(_pairs(v) for v in rows.values())
    sum_cols = sum(_pairs(v) for v in cols.values())
    total = _pairs(n)
    expected = sum_rows * sum_cols / total
    maximum = (sum_rows + sum_cols) / 2.0
    if maximum == expected:
        return 1.0
    return (index - expected) / (maximum - expected)


def largest_shared_cluster(clusters: Sequence[str | None]) -> tuple[str | None, int]:
    """The cluster holding most of ``clusters`` (one entry per campaign member) and its count.

    Members with no cluster are never counted together; ``(None, 0)`` when no two members
    share a cluster.
    """
    counts = Counter(c for c in clusters if c)
    if not counts:
        return None, 0
    cluster, count = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
    if count < 2:
        return None, 0
    return cluster, count


def calls_to_first_alert(
    calls: Sequence[tuple[int, str, int]],
    alert_request_ids: Collection[str],
) -> tuple[int, int] | None:
    """How long an account ran before its first alert.

    ``calls`` holds one ``(time key, request_id, completion_tokens)`` per call of the account,
    in any order; they are put in time order (time key, then request_id). Returns
    ``(calls up to and including the first alerted call, completion tokens served before it)``,
    the alerted call's own tokens excluded; ``None`` if no call carries an alerted request id.
    """
    ordered = sorted(calls, key=lambda c: (c[0], c[1]))
    tokens = 0
    for position, (_, request_id, completion_tokens) in enumerate(ordered, start=1):
        if request_id in alert_request_ids:
            return position, tokens
        tokens += completion_tokens
    return None


def calls_before_time(calls: Sequence[tuple[int, str, int]], time_key: int) -> tuple[int, int]:
    """Fallback when an alert names no call of the account: ``(calls at or before time_key,
    completion tokens of those calls)``."""
    ordered = sorted(calls, key=lambda c: (c[0], c[1]))
    upto = bisect.bisect_right([c[0] for c in ordered], time_key)
    return upto, sum(c[2] for c in ordered[:upto])


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100, linear interpolation); ``None`` for no values."""
    if len(values) == 0:
        return None
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))
