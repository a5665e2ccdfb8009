"""The benchmark's metric functions on tiny hand-made cases."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distillwatch.bench import (
    adjusted_rand_index,
    auroc,
    calls_before_time,
    calls_to_first_alert,
    largest_shared_cluster,
    percentile,
    share,
    singletons,
    tpr_at_fpr,
)
from distillwatch.bench._metrics import average_ranks

# --- AUROC -----------------------------------------------------------------------------------


def test_auroc_constant_scores_is_one_half() -> None:
    assert auroc([0.3] * 6, [True, False, True, False, False, False]) == 0.5


def test_auroc_perfect_and_reversed() -> None:
    labels = [False, False, True, True]
    assert auroc([0.1, 0.2, 0.8, 0.9], labels) == 1.0
    assert auroc([0.9, 0.8, 0.2, 0.1], labels) == 0.0


def test_auroc_counts_ties_as_half() -> None:
    # Positive 0.5 vs negative 0.5 is a tie (1/2); the other three pairs are wins: 3.5 / 4.
    assert auroc([0.5, 0.8, 0.5, 0.2], [True, True, False, False]) == pytest.approx(0.875)


def test_auroc_undefined_without_both_classes() -> None:
    assert auroc([0.1, 0.2], [True, True]) is None
    assert auroc([0.1, 0.2], [False, False]) is None
    assert auroc([], []) is None


def test_auroc_rejects_mismatched_lengths() -> None:
    with pytest.raises(ValueError):
        auroc([0.1, 0.2], [True])


def test_average_ranks_ties() -> None:
    assert average_ranks([3.0, 1.0, 3.0, 2.0]).tolist() == [3.5, 1.0, 3.5, 2.0]


@settings(max_examples=200, deadline=None)
@given(
    data=st.lists(
        st.tuples(st.integers(min_value=-1000, max_value=1000), st.booleans()), min_size=2,
        max_size=60,
    ),
    transform=st.sampled_from(["affine", "cube", "exp", "sigmoid"]),
)
def test_auroc_invariant_to_monotone_transforms(
    data: list[tuple[int, bool]], transform: str
) -> None:
    scores = [float(s) for s, _ in data]
    labels = [y for _, y in data]
    functions = {
        "affine": lambda x: 3.0 * x + 7.0,
        "cube": lambda x: x**3,
        "exp": lambda x: math.exp(x / 100.0),
        "sigmoid": lambda x: 1.0 / (1.0 + math.exp(-x / 300.0)),
    }
    base = auroc(scores, labels)
    moved = auroc([functions[transform](s) for s in scores], labels)
    if base is None:
        assert moved is None
        return
    assert 0.0 <= base <= 1.0
    assert moved == pytest.approx(base, abs=1e-12)


# --- TPR at FPR ------------------------------------------------------------------------------

NEG = [0.9, 0.5, 0.4, 0.3, 0.2, 0.1, 0.1, 0.1, 0.1, 0.1]
POS = [0.95, 0.9, 0.6, 0.3]
SCORES = POS + NEG
LABELS = [True] * len(POS) + [False] * len(NEG)


def test_tpr_at_fpr_handcrafted() -> None:
    # 10 negatives at 10%: one false positive allowed. Threshold 0.9 flags the tied negative,
    # 0.6 adds a positive, 0.5 would be a second false positive.
    point = tpr_at_fpr(SCORES, LABELS, 0.10)
    assert point is not None
    assert point.max_false_positives == 1
    assert (point.tpr, point.fpr, point.threshold) == (0.75, 0.1, 0.6)
    assert (point.true_positives, point.false_positives) == (3, 1)


def test_tpr_at_fpr_zero_false_positives_allowed() -> None:
    # 0.1% of 10 negatives is 0 false positives: only the score above every negative counts.
    point = tpr_at_fpr(SCORES, LABELS, 0.001)
    assert point is not None
    assert point.max_false_positives == 0
    assert (point.tpr, point.fpr, point.threshold) == (0.25, 0.0, 0.95)


def test_tpr_at_fpr_flags_nothing_when_a_negative_is_on_top() -> None:
    point = tpr_at_fpr([0.9, 0.5, 0.1], [False, True, False], 0.01)
    assert point is not None
    assert point.tpr == 0.0 and point.threshold == math.inf


def test_tpr_at_fpr_all_allowed() -> None:
    point = tpr_at_fpr(SCORES, LABELS, 1.0)
    assert point is not None and point.tpr == 1.0


def test_tpr_at_fpr_undefined_without_both_classes() -> None:
    assert tpr_at_fpr([0.1], [True], 0.01) is None


# --- adjusted Rand index ---------------------------------------------------------------------


def test_ari_hand_computed() -> None:
    # Contingency [[2, 1, 0], [0, 1, 2]]: index 2, rows 3+3, cols 1+1+1, C(6,2)=15,
    # expected 6*3/15=1.2, max 4.5: (2-1.2)/(4.5-1.2) = 8/33.
    assert adjusted_rand_index([0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 2, 2]) == pytest.approx(8 / 33)


def test_ari_identical_up_to_relabeling() -> None:
    assert adjusted_rand_index(["a", "a", "b", "c", "c"], [7, 7, 3, 1, 1]) == 1.0


def test_ari_trivial_partitions() -> None:
    assert adjusted_rand_index([1, 2, 3, 4], ["w", "x", "y", "z"]) == 1.0
    assert adjusted_rand_index([1, 1, 1], [2, 2, 2]) == 1.0
    assert adjusted_rand_index([1, 2, 3, 4], [0, 0, 0, 0]) == 0.0
    assert adjusted_rand_index([1], [2]) == 1.0


def test_ari_independent_is_near_zero() -> None:
    rng = random.Random(7)
    truth = [rng.randrange(10) for _ in range(5000)]
    predicted = [rng.randrange(10) for _ in range(5000)]
    assert abs(adjusted_rand_index(truth, predicted)) < 0.01


def test_ari_symmetric() -> None:
    a, b = [0, 0, 1, 1, 2, 2, 2], [1, 0, 1, 1, 2, 0, 2]
    assert adjusted_rand_index(a, b) == pytest.approx(adjusted_rand_index(b, a))


def test_singletons_gives_each_empty_label_its_own_group() -> None:
    out = singletons(["k", None, "", "k"])
    assert out[0] == out[3] == "k"
    assert len({out[1], out[2], "k"}) == 3


def test_largest_shared_cluster() -> None:
    assert largest_shared_cluster(["a", "b", "a", None, "a"]) == ("a", 3)
    assert largest_shared_cluster(["a", "b", None]) == (None, 0)
    assert largest_shared_cluster([None, None]) == (None, 0)


# --- time to detect --------------------------------------------------------------------------

STREAM = [  # (time key, request_id, completion tokens), out of order; r2/r3 tie on time
    (40, "r4", 40),
    (10, "r1", 10),
    (20, "r3", 30),
    (20, "r2", 20),
    (50, "r5", 50),
]


def test_calls_to_first_alert_in_time_then_request_id_order() -> None:
    # Order r1, r2, r3, r4, r5; the first alerted call is r3 (3rd), after 10 + 20 tokens.
    assert calls_to_first_alert(STREAM, {"r4", "r3"}) == (3, 30)
    assert calls_to_first_alert(STREAM, {"r1"}) == (1, 0)
    assert calls_to_first_alert(STREAM, {"r5"}) == (5, 100)


def test_calls_to_first_alert_unknown_request() -> None:
    assert calls_to_first_alert(STREAM, {"nope"}) is None
    assert calls_to_first_alert([], {"r1"}) is None


def test_calls_before_time_fallback() -> None:
    assert calls_before_time(STREAM, 20) == (3, 60)
    assert calls_before_time(STREAM, 5) == (0, 0)


def test_percentile_and_share() -> None:
    assert percentile([1, 3], 50) == 2.0
    assert percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 90) == 10.0
    assert percentile([], 50) is None
    assert share(1, 4) == 0.25
    assert share(1, 0) is None
    assert np.isclose(percentile([1.0, 3.0], 90) or 0.0, 2.8)
