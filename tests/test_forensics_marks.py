"""Forensics marks: key derivation and rotation, canaries and their registry, the watermark,
tripwires, and the exact tests (hand-made counts, and uniform nulls over many seeded draws)."""

from __future__ import annotations

import hashlib
import hmac
import inspect
import itertools
import math
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from distillwatch.errors import ConfigError, InputError
from distillwatch.forensics import (
    CanaryInjector,
    CanaryRegistry,
    CanarySlot,
    GreenListLogitsProcessor,
    KeyRing,
    WatermarkScheme,
    binomial_test,
    canary_slot,
    canary_test,
    derive_key,
    find_tripwires,
    graded_canary_test,
    green_mask,
    holm,
    hypergeometric_test,
    is_green,
    key_id,
    load_keyring,
    mark_tripwire,
    mode_test,
    normalise_text,
    recall_score,
    reproduces,
    score_tokens,
    two_proportion_test,
)

SECRET = bytes(range(32))


def _ring() -> KeyRing:
    return KeyRing({1: SECRET}, 1)


# --- keys -------------------------------------------------------------------------------------

def test_key_is_the_hmac_of_account_and_purpose() -> None:
    msg = b"distillwatch/forensics/v1" + (6).to_bytes(4, "big") + b"acct_1" + \
        (6).to_bytes(4, "big") + b"canary"
    assert derive_key(SECRET, "acct_1", "canary") == hmac.new(SECRET, msg, hashlib.sha256).digest()


@given(st.text(min_size=1), st.text(min_size=1))
def test_distinct_accounts_get_distinct_keys(a: str, b: str) -> None:
    same = derive_key(SECRET, a, "watermark") == derive_key(SECRET, b, "watermark")
    assert same == (a == b)


def test_keys_differ_by_purpose_and_secret_and_reject_unknown_purposes() -> None:
    keys = {derive_key(SECRET, "a", p) for p in ("canary", "watermark", "tripwire")}
    keys.add(derive_key(b"another secret!!", "a", "canary"))
    assert len(keys) == 4
    with pytest.raises(ConfigError, match="purpose"):
        derive_key(SECRET, "a", "nope")


def test_key_ids_and_reprs_never_show_the_key() -> None:
    key = _ring().key("acct_1", "canary")
    assert key.key.hex() not in repr(key) and SECRET.hex() not in repr(_ring())
    assert key.key_id == key_id(key.key) and len(key.key_id) == 16
    assert key.key_id not in key.key.hex()


def test_rotation_keeps_old_versions_for_verification(tmp_path: Path) -> None:
    ring = _ring()
    rotated = ring.rotated()
    assert rotated.active == 2 and set(rotated.secrets) == {1, 2}
    assert rotated.key("a", "canary", 1).key == ring.key("a", "canary").key
    assert rotated.key("a", "canary").key != ring.key("a", "canary").key
    path = tmp_path / "secrets.json"
    rotated.save(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    loaded = load_keyring(path)
    assert loaded.secret_ids() == rotated.secret_ids() and loaded.active == 2


def test_keyring_sources_and_errors(tmp_path: Path) -> None:
    assert load_keyring(env={"DISTILLWATCH_FORENSICS_SECRET": SECRET.hex()}).secrets[1] == SECRET
    with pytest.raises(ConfigError, match="no operator secret"):
        load_keyring(env={})
    bad = tmp_path / "bad.json"
    bad.write_text('{"versions": [{"version": 1}]}')
    with pytest.raises(InputError, match=r"bad\.json.*versions\[0\]"):
        load_keyring(bad)
    with pytest.raises(InputError, match="does not exist"):
        load_keyring(tmp_path / "missing.json")
    with pytest.raises(ConfigError, match="shorter"):
        KeyRing({1: b"short"}, 1)


# --- exact tests on hand-made counts ----------------------------------------------------------

def test_binomial_and_hypergeometric_match_hand_computation() -> None:
    assert binomial_test(3, 3, 0.5) == pytest.approx(0.125)
    assert binomial_test(0, 10, 0.25) == pytest.approx(1.0)
    want = sum(math.comb(10, k) * 0.25**k * 0.75 ** (10 - k) for k in range(6, 11))
    assert binomial_test(6, 10, 0.25) == pytest.approx(want, rel=1e-12)
    # 20 canaries, 10 served, 4 reproduced, all 4 among the served
    assert hypergeometric_test(4, 10, 4, 20) == pytest.approx(
        math.comb(10, 4) / math.comb(20, 4), rel=1e-12)


def test_canary_test_is_the_sign_test_with_one_decoy() -> None:
    # 12 discordant pairs, 10 of them the served one; 3 concordant (ignored)
    slots = ([CanarySlot(True, 0, 1)] * 10 + [CanarySlot(False, 1, 1)] * 2
             + [CanarySlot(True, 1, 1)] * 3 + [CanarySlot(False, 0, 1)] * 5)
    assert canary_test(slots) == pytest.approx(binomial_test(10, 12, 0.5), rel=1e-12)


def test_canary_test_reaches_target_from_few_served() -> None:
    # 100 served with 3 decoys each; the suspect reproduces 10 served and no decoy
    slots = [CanarySlot(i < 10, 0, 3) for i in range(100)]
    assert canary_test(slots) == pytest.approx(0.25**10, rel=1e-12)
    assert canary_test([CanarySlot(False, 0, 3)] * 100) == 1.0


def test_holm_on_a_textbook_example() -> None:
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])


@given(st.lists(st.floats(0, 1), min_size=1, max_size=20))
def test_holm_never_lowers_a_p_value_and_keeps_order(ps: list[float]) -> None:
    adj = holm(ps)
    assert all(a >= p for a, p in zip(adj, ps, strict=True))
    order = sorted(range(len(ps)), key=lambda i: ps[i])
    assert all(adj[i] <= adj[j] for i, j in itertools.pairwise(order))


def test_two_proportion_test_direction() -> None:
    assert two_proportion_test(80, 100, 40, 100) < 1e-6
    assert two_proportion_test(40, 100, 80, 100) > 0.99


def _null_slots(rng: np.random.Generator, n: int = 40, m: int = 3) -> list[CanarySlot]:
    """Reproduction independent of which candidate was served (the null)."""
    slots = []
    for _ in range(n):
        hits = rng.random(1 + m) < rng.uniform(0, 0.4)
        served = rng.integers(1 + m)
        slots.append(CanarySlot(bool(hits[served]), int(hits.sum() - hits[served]), m))
    return slots


def test_null_p_values_are_valid_and_randomised_ones_uniform() -> None:
    rng = np.random.default_rng(7)
    exact, randomised, binom_r = [], [], []
    for _ in range(400):
        slots = _null_slots(rng)
        exact.append(canary_test(slots))
        randomised.append(canary_test(slots, u=float(rng.random())))
        k = int(rng.binomial(300, 0.25))
        binom_r.append(binomial_test(k, 300, 0.25, u=float(rng.random())))
    for a in (0.01, 0.05, 0.2, 0.5):
        assert np.mean(np.array(exact) <= a) <= a + 2 * math.sqrt(a * (1 - a) / 400)
    assert stats.kstest(randomised, "uniform").pvalue > 0.01
    assert stats.kstest(binom_r, "uniform").pvalue > 0.01


def test_graded_test_with_0_1_scores_is_the_canary_test() -> None:
    rng = np.random.default_rng(3)
    for _ in range(50):
        slots = _null_slots(rng, n=int(rng.integers(1, 30)), m=int(rng.integers(1, 5)))
        scores = [[int(s.served_hit)] + [1] * s.decoy_hits + [0] * (s.n_decoys - s.decoy_hits)
                  for s in slots]
        assert graded_canary_test(scores) == pytest.approx(canary_test(slots), rel=1e-12)


def test_graded_null_p_values_are_valid_and_randomised_ones_uniform() -> None:
    """Scores drawn per candidate, independent of which one was served: the null."""
    rng = np.random.default_rng(11)
    exact, randomised = [], []
    for _ in range(400):
        slots = []
        for _ in range(40):
            scores = rng.choice(7, size=4, p=[0.6, 0.2, 0.1, 0.04, 0.03, 0.02, 0.01])
            served = int(rng.integers(4))
            slots.append([int(scores[served]), *(int(v) for i, v in enumerate(scores)
                                                 if i != served)])
        exact.append(graded_canary_test(slots))
        randomised.append(graded_canary_test(slots, u=float(rng.random())))
    for a in (0.01, 0.05, 0.2, 0.5):
        assert np.mean(np.array(exact) <= a) <= a + 2 * math.sqrt(a * (1 - a) / 400)
    assert stats.kstest(randomised, "uniform").pvalue > 0.01


def test_graded_test_counts_partly_learnt_values() -> None:
    # 30 slots: the suspect gets the first two digits of every served value and nothing of the
    # decoys; no whole value is reproduced, so the 0/1 test sees nothing at all
    slots = [[2, 0, 0, 0]] * 30
    assert graded_canary_test(slots) == pytest.approx(0.25 ** 30, rel=1e-9)
    assert canary_test([CanarySlot(False, 0, 3)] * 30) == 1.0
    with pytest.raises(ValueError):
        graded_canary_test([[1]])


def test_recall_score_grades_leading_digits() -> None:
    served, _ = canary_slot(_ring().key("acct_1", "canary"), 0, 3)
    v = served.value
    assert recall_score(served, f"It is {v}.") == len(v) + 1
    assert recall_score(served, f"It is {v[:3]}{(int(v[3]) + 1) % 10}0 or so") == 3
    assert recall_score(served, f"{v}7") == len(v)  # longer number: not the value itself
    assert recall_score(served, "no number") == 0
    assert recall_score(served, "\uff10" + v[1:]) == (len(v) if v[0] == "0" else 0)


# --- canaries, the registry and the transform -------------------------------------------------

def test_canary_slots_are_keyed_and_decoys_drawn_the_same_way() -> None:
    key = _ring().key("acct_1", "canary")
    served, decoys = canary_slot(key, 0, 3)
    assert canary_slot(key, 0, 3) == (served, decoys) and len(decoys) == 3
    assert {c.candidate for c in [served, *decoys]} == {0, 1, 2, 3}
    other, _ = canary_slot(_ring().key("acct_2", "canary"), 0, 3)
    assert other.value != served.value or other.entity != served.entity
    assert reproduces(served, f"Sure: {served.value}.") and not reproduces(served, "nothing")
    assert not reproduces(served, f"{served.value}7")
    positions = [canary_slot(key, j, 3)[0].candidate for j in range(400)]
    assert stats.chisquare(np.bincount(positions, minlength=4)).pvalue > 0.001


def test_the_transform_weaves_records_and_is_idempotent(tmp_path: Path) -> None:
    registry = CanaryRegistry(tmp_path / "canaries.sqlite")
    when = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    inject = CanaryInjector(registry, _ring(), share=1.0, max_per_account=2, clock=lambda: when)
    assert list(inspect.signature(inject).parameters) == ["account_id", "request_id", "text"]
    first = inject("acct_1", "req_1", "Para one.\n\nPara two.")
    served, _ = canary_slot(_ring().key("acct_1", "canary"), 0, 3)
    assert served.sentence() in first and first.startswith("Para one.")
    assert inject("acct_1", "req_1", "Para one.\n\nPara two.") == first
    inject("acct_1", "req_2", "x")
    assert inject("acct_1", "req_3", "y") == "y"  # capped at two per account
    rows = registry.served("acct_1")
    assert [(r.slot, r.request_id) for r in rows] == [(0, "req_1"), (1, "req_2")]
    assert rows[0].canary_id == served.canary_id
    assert rows[0].response_sha256 == hashlib.sha256(first.encode()).hexdigest()
    assert rows[0].served_at.startswith("2026-11-25T12:00:00")


def test_the_transform_marks_a_small_share(tmp_path: Path) -> None:
    inject = CanaryInjector(CanaryRegistry(tmp_path / "r.sqlite"), _ring(), share=0.05,
                            max_per_account=10_000)
    changed = sum(inject("acct_9", f"r{i}", "hello") != "hello" for i in range(1000))
    assert 30 <= changed <= 75


# --- tripwires ---------------------------------------------------------------------------------

def test_tripwire_is_found_verbatim_and_removed_by_normalisation() -> None:
    key = _ring().key("acct_1", "tripwire")
    text = "The answer is ﬁve, as shown."
    marked = mark_tripwire(key, text)
    assert marked != text and find_tripwires(marked) == [key.key_id]
    cleaned = normalise_text(marked)
    assert find_tripwires(cleaned) == [] and cleaned == normalise_text(text)
    assert "five" in cleaned


# --- watermark ----------------------------------------------------------------------------------

def test_green_mask_agrees_with_pairwise_greenness_and_has_share_gamma() -> None:
    key = _ring().key("acct_1", "watermark")
    for scheme in (WatermarkScheme(context=1), WatermarkScheme(gamma=0.5, context=2)):
        mask = green_mask(key, scheme, [3, 17], 5000)
        assert all(mask[t] == is_green(key, scheme, [3, 17], t) for t in range(0, 5000, 7))
        assert abs(mask.mean() - scheme.gamma) < 0.03


def _generate(processor: GreenListLogitsProcessor | None, rng: np.random.Generator,
              n: int, vocab: int = 500) -> list[int]:
    logits_table = rng.normal(0, 1.5, size=(vocab, vocab)).astype(np.float32)
    ids = [int(rng.integers(vocab))]
    for _ in range(n):
        scores = logits_table[ids[-1]][None, :].copy()
        if processor is not None:
            scores = processor(np.array([ids]), scores)
        p = np.exp(scores[0] - scores[0].max())
        ids.append(int(rng.choice(vocab, p=p / p.sum())))
    return ids


def test_watermarked_generation_is_detected_and_clean_text_is_not() -> None:
    ring = _ring()
    key = ring.key("acct_1", "watermark")
    scheme = WatermarkScheme(gamma=0.25, delta=2.0)
    marked = _generate(GreenListLogitsProcessor(key, scheme), np.random.default_rng(1), 600)
    clean = _generate(None, np.random.default_rng(1), 600)
    assert score_tokens(key, scheme, [marked]).p_value < 1e-10
    assert score_tokens(key, scheme, [clean]).p_value > 1e-3
    assert score_tokens(ring.key("acct_2", "watermark"), scheme, [marked]).p_value > 1e-3


def test_repeated_pairs_count_once() -> None:
    key = _ring().key("acct_1", "watermark")
    scheme = WatermarkScheme()
    seq = [1, 2, 3, 4, 5, 6]
    assert score_tokens(key, scheme, [seq] * 50) == score_tokens(key, scheme, [seq])
    assert score_tokens(key, scheme, [seq]).pairs == 5


def test_mode_test_on_hand_made_samples() -> None:
    key = _ring().key("acct_1", "watermark")
    scheme = WatermarkScheme(gamma=0.25)
    green = [t for t in range(200) if is_green(key, scheme, [7], t)]
    red = [t for t in range(200) if not is_green(key, scheme, [7], t)]
    # one context, mode green; duplicate context entries pool their samples
    res = mode_test(key, scheme, [([7], [green[0]] * 3 + [red[0]]), ([7], [red[1]])])
    assert res.contexts == 1 and res.green_modes == 1 and res.p_value == pytest.approx(0.25)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32))
def test_processor_accepts_numpy_rows_and_biases_only_green(seed: int) -> None:
    key = _ring().key(f"acct_{seed}", "watermark")
    scheme = WatermarkScheme(delta=3.0)
    out = GreenListLogitsProcessor(key, scheme)(np.array([[1, seed % 100]]), np.zeros((1, 64)))
    mask = green_mask(key, scheme, [seed % 100], 64)
    assert np.array_equal(out[0] == 3.0, mask)


def test_keys_cli_init_rotate_list_never_prints_a_key(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from distillwatch.cli import cli

    path = tmp_path / "s.json"
    runner = CliRunner()
    assert runner.invoke(cli, ["forensics", "keys", "init", "--secret-file", str(path)]
                         ).exit_code == 0
    assert runner.invoke(cli, ["forensics", "keys", "rotate", "--secret-file", str(path)]
                         ).exit_code == 0
    out = runner.invoke(cli, ["forensics", "keys", "list", "--secret-file", str(path),
                              "--account", "acct_1"]).output
    ring = load_keyring(path)
    assert ring.secret_ids()[2] in out and ring.key("acct_1", "watermark", 1).key_id in out
    for secret in ring.secrets.values():
        assert secret.hex() not in out
    assert ring.key("acct_1", "canary").key.hex() not in out


def test_concurrent_serving_gives_each_request_its_own_slot(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    registry = CanaryRegistry(tmp_path / "r.sqlite")
    inject = CanaryInjector(registry, _ring(), share=1.0, max_per_account=50)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: inject("acct_1", f"r{i % 30}", "text"), range(60)))
    rows = registry.served("acct_1")
    assert sorted(r.slot for r in rows) == list(range(30))
    assert len({r.request_id for r in rows}) == 30


def test_the_gateway_hook_appends_so_streams_can_carry_it(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    from distillwatch.forensics import _inject

    monkeypatch.setattr(_inject, "_HOOK", [])
    monkeypatch.setenv("DISTILLWATCH_FORENSICS_SECRET", SECRET.hex())
    monkeypatch.setenv("DISTILLWATCH_CANARY_SHARE", "1")
    monkeypatch.delenv("DISTILLWATCH_FORENSICS_SECRET_FILE", raising=False)
    monkeypatch.delenv("DISTILLWATCH_CANARY_REGISTRY", raising=False)
    module, _, attr = "distillwatch.forensics:gateway_canary".partition(":")
    hook = getattr(importlib.import_module(module), attr)
    with pytest.raises(ConfigError, match="DISTILLWATCH_CANARY_REGISTRY"):
        hook("acct_1", "r1", "x")
    monkeypatch.setenv("DISTILLWATCH_CANARY_REGISTRY", str(tmp_path / "reg.sqlite"))
    text = "First paragraph.\n\nSecond, still streaming"
    marked = hook("acct_1", "r1", text)
    served, _ = canary_slot(_ring().key("acct_1", "canary"), 0, 3)
    assert marked.startswith(text) and marked.endswith(served.sentence())
    assert CanaryRegistry(tmp_path / "reg.sqlite").served("acct_1")[0].request_id == "r1"


def test_watermark_null_is_uniform_over_wrong_keys() -> None:
    """Clean text scored under 300 keys that never marked it: p-values look uniform (the
    distinct-pair binomial is near-continuous at this size) and are valid at every level."""
    rng = np.random.default_rng(11)
    seqs = [list(rng.integers(0, 2000, size=41)) for _ in range(20)]
    scheme = WatermarkScheme()
    ring = _ring()
    ps = np.array([score_tokens(ring.key(f"wrong_{i}", "watermark"), scheme, seqs).p_value
                   for i in range(300)])
    assert stats.kstest(ps, "uniform").pvalue > 0.01
    for a in (0.01, 0.05, 0.1):
        assert (ps <= a).mean() <= a + 3 * math.sqrt(a * (1 - a) / 300)
