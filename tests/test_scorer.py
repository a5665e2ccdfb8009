"""The account scorer orders simple cases the way an analyst would."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distillwatch.detect import (
    INDICATORS,
    MIN_CALLS_HARVESTING,
    AccountScorer,
    LinearModel,
    fit_logistic,
    load_default_model,
    verdict_for,
)
from distillwatch.detect._indicators import MIN_SCALE, fit_baselines, mid_quantile
from distillwatch.features import call_features
from distillwatch.ingest import Store, read_canonical_batches
from distillwatch.profile import account_profiles
from factories import make_event, write_jsonl


def _profiles(tmp_path: Path, records: list[dict[str, object]]) -> pa.Table:
    path = write_jsonl(tmp_path / "t.jsonl", records)
    with Store(tmp_path / "db.duckdb") as store:
        for batch in read_canonical_batches([str(path)]):
            store.stage(call_features(batch))
        store.merge_staged()
        return account_profiles(store)


def _chatty(account: str, n: int) -> list[dict[str, object]]:
    topics = ["my cat", "a birthday party", "the garden", "a job interview", "a trip to Rome"]
    return [make_event(account, user_text=f"Can you help me plan {topics[i % 5]}? ({i % 3})",
                       history=[{"role": "user", "content": "hi"},
                                {"role": "assistant", "content": "Hello! How can I help?"}],
                       user=f"u{i % 7}", completion_tokens=150, max_tokens=512)
            for i in range(n)]


def _harvester(account: str, count: int, **params: object) -> list[dict[str, object]]:
    subjects = ["algebra", "organic chemistry", "medieval history", "python decorators",
                "tax law", "plate tectonics", "poetry meter", "game theory"]
    return [make_event(account, user_text=f"Explain {subjects[i % 8]} problem #{i} step by step "
                                          f"with full reasoning.",
                       completion_tokens=2500, prompt_tokens=40, **params)
            for i in range(count)]


def test_harvesters_outrank_chat_apps(tmp_path: Path) -> None:
    records = []
    for a in range(8):
        records += _chatty(f"acct_chat{a}", 60)
    records += _harvester("acct_cot", 60, max_tokens=8000, n=4, reasoning_effort="high")
    records += _harvester("acct_lp", 60, logprobs=True, top_logprobs=20, max_tokens=1,
                          logit_bias={"11": 5})
    profiles = _profiles(tmp_path, records)
    scorer = AccountScorer().fit(profiles)
    result = scorer.score(profiles)
    risk = dict(zip(result.account_ids, result.risk, strict=True))
    chat_max = max(v for k, v in risk.items() if k.startswith("acct_chat"))
    assert risk["acct_cot"] > chat_max and risk["acct_lp"] > chat_max
    verdicts = dict(zip(result.account_ids, result.verdicts, strict=True))
    assert verdicts["acct_cot"] == "harvesting"
    assert all(verdicts[f"acct_chat{a}"] == "normal" for a in range(8))
    codes = {r.code for r in result.reasons[result.account_ids.index("acct_lp")]}
    assert codes & {"TOP_LOGPROBS", "LOGIT_BIAS", "HARVEST_STYLE_SHARE"}
    for reason in result.reasons[result.account_ids.index("acct_cot")]:
        assert reason.contribution > 0 and reason.describe()


def test_more_harvest_style_means_more_risk(tmp_path: Path) -> None:
    records = []
    for a in range(6):
        records += _chatty(f"acct_chat{a}", 40)
    records += _chatty("acct_mixed_low", 38) + _harvester("acct_mixed_low", 2, n=4)
    records += _chatty("acct_mixed_high", 20) + _harvester("acct_mixed_high", 20, n=4)
    result = AccountScorer().fit(p := _profiles(tmp_path, records)).score(p)
    risk = dict(zip(result.account_ids, result.risk, strict=True))
    assert risk["acct_mixed_high"] > risk["acct_mixed_low"] > 0


def test_allowlisted_accounts_are_lowered_never_hidden() -> None:
    model = load_default_model()
    assert verdict_for(0.99, model) == "harvesting"
    assert verdict_for(0.99, model, allowlisted=True) == "suspicious"
    assert verdict_for(0.0, model) == "normal"


def test_one_or_two_calls_are_not_enough_evidence_for_harvesting(tmp_path: Path) -> None:
    model = load_default_model()
    assert verdict_for(0.99, model, calls=MIN_CALLS_HARVESTING - 1) == "suspicious"
    assert verdict_for(0.99, model, calls=MIN_CALLS_HARVESTING) == "harvesting"
    assert verdict_for(0.0, model, calls=1) == "normal"
    records = []
    for a in range(8):
        records += _chatty(f"acct_chat{a}", 40)
    records += _harvester("acct_two", 2, max_tokens=8000, n=4, reasoning_effort="high")
    records += _harvester("acct_many", 40, max_tokens=8000, n=4, reasoning_effort="high")
    profiles = _profiles(tmp_path, records)
    result = AccountScorer().fit(profiles).score(profiles)
    verdicts = dict(zip(result.account_ids, result.verdicts, strict=True))
    risk = dict(zip(result.account_ids, result.risk, strict=True))
    assert verdicts["acct_many"] == "harvesting"
    assert verdicts["acct_two"] == "suspicious"  # flagged and ranked, but not on two calls
    assert risk["acct_two"] >= load_default_model().harvesting_threshold


def test_the_case_file_says_why_a_two_call_account_is_only_suspicious(tmp_path: Path) -> None:
    import orjson

    from distillwatch.scan import ScanOptions, scan

    records = []
    for a in range(8):
        records += _chatty(f"acct_chat{a}", 40)
    records += _harvester("acct_two", 2, max_tokens=8000, n=4, reasoning_effort="high")
    records += _harvester("acct_many", 40, max_tokens=8000, n=4, reasoning_effort="high")
    path = write_jsonl(tmp_path / "t.jsonl", records)
    out = tmp_path / "out"
    scan([str(path)], ScanOptions(out=out, db=tmp_path / "s.duckdb", link=False))
    findings = {f["account_id"]: f for f in map(orjson.loads,
                                                (out / "findings.jsonl").read_bytes().splitlines())}
    assert findings["acct_two"]["verdict"] == "suspicious"
    assert "only 2 calls in the window" in findings["acct_two"]["note"]
    assert "note" not in findings["acct_many"]
    assert "only 2 calls in the window" in (out / "report.html").read_text()


def test_a_ring_member_with_few_calls_takes_its_operations_verdict() -> None:
    from distillwatch.detect import Reason, ScoreResult
    from distillwatch.link import inherit_cluster_risk

    model = load_default_model()
    high = model.harvesting_threshold + 0.01
    members = ScoreResult(["a", "b"], np.array([high + 0.05, high]),
                          ["suspicious", "harvesting"], [[], []])  # "a" has two calls
    cluster = ScoreResult(["ring-1"], np.array([high]), ["harvesting"],
                          [[Reason("HIGH_VOLUME", "x", 1.0, 0.0, 1.0)]])
    out = inherit_cluster_risk(members, cluster, {"a": "ring-1", "b": "ring-1"}, model, set())
    assert out.verdicts == ["harvesting", "harvesting"]
    assert out.risk[0] == high + 0.05  # its own, higher risk is kept
    assert out.reasons[0][0].code == "RING_MEMBER"


def test_the_shipped_model_covers_every_indicator() -> None:
    model = load_default_model()
    assert set(model.weights) == {ind.code for ind in INDICATORS}
    assert 0 < model.suspicious_threshold < model.harvesting_threshold < 1
    assert LinearModel.from_json(model.to_json()) == model


def test_logistic_fit_separates_a_separable_toy_problem() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3))
    y = (x[:, 0] - 2 * x[:, 1] > 0).astype(float)
    w, b = fit_logistic(x, y, l2=0.1)
    assert w[0] > 0 > w[1] and abs(w[2]) < abs(w[0])
    accuracy = float((((x @ w + b) > 0) == (y > 0)).mean())
    assert accuracy > 0.97


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-5, 5), min_size=len(INDICATORS), max_size=len(INDICATORS)),
       st.integers(0, len(INDICATORS) - 1), st.floats(0.01, 2))
def test_risk_is_monotone_in_each_weighted_indicator(xs: list[float], j: int,
                                                     delta: float) -> None:
    model = load_default_model()
    x = np.array([xs])
    bumped = x.copy()
    bumped[0, j] += delta
    before, after = model.predict(x)[0], model.predict(bumped)[0]
    assert 0.0 <= before <= 1.0
    w = model.vector()[j]
    if w > 0:
        assert after >= before
    elif w < 0:
        assert after <= before


@pytest.mark.parametrize("risk", [0.0, 0.3, 1.0])
def test_verdicts_cover_the_risk_range(risk: float) -> None:
    assert verdict_for(risk, load_default_model()) in {"harvesting", "suspicious", "normal"}


@given(st.lists(st.floats(-50, 50), min_size=1, max_size=60, unique=True),
       st.floats(0.0, 1.0))
def test_mid_quantile_is_the_hazen_quantile_without_ties(xs: list[float], q: float) -> None:
    values = np.sort(np.array(xs))
    n = len(values)
    expected = float(np.interp(q, (np.arange(n) + 0.5) / n, values))
    assert mid_quantile(np.array(xs), q) == pytest.approx(expected, abs=1e-9)


def test_a_count_baseline_moves_smoothly_with_the_population_mix() -> None:
    """Half the accounts with one user agent, half with two: a few accounts more on either
    side must not move the baseline from one count to the other (it did with the median)."""
    def baseline(ones: int, twos: int) -> tuple[float, float]:
        agents = np.array([1.0] * ones + [2.0] * twos)
        return fit_baselines({**{ind.code: np.zeros(len(agents)) for ind in INDICATORS},
                              "AGENT_CHURN": agents})["AGENT_CHURN"]

    (m1, s1), (m2, s2) = baseline(2_600, 2_400), baseline(2_400, 2_600)
    assert np.log1p(1) < m1 < m2 < np.log1p(2)
    assert abs(m2 - m1) < 0.05 and abs(s2 - s1) < 0.02 and min(s1, s2) >= MIN_SCALE
    # an account with two agents scores nearly alike in both populations
    z1, z2 = (np.log1p(2) - m1) / s1, (np.log1p(2) - m2) / s2
    assert abs(z1 - z2) < 0.2


@given(st.lists(st.integers(0, 5), min_size=1, max_size=200),
       st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_mid_quantile_is_monotone_and_within_the_data(xs: list[int], q1: float,
                                                      q2: float) -> None:
    x = np.array(xs, dtype=float)
    lo, hi = sorted((q1, q2))
    assert x.min() <= mid_quantile(x, lo) <= mid_quantile(x, hi) <= x.max()


def test_volume_baseline_ignores_how_many_apps_pass_end_user_ids() -> None:
    """Unattributed volume is zero for every app that passes its users' ids; whether 45% or
    55% of the population does so must not move the baseline the others are compared with."""
    rng = np.random.default_rng(5)
    volumes = rng.lognormal(4.0, 1.0, 1_000)

    def baseline(zeros: int) -> tuple[float, float]:
        x = np.concatenate([np.zeros(zeros), volumes])
        return fit_baselines({**{ind.code: np.ones(len(x)) for ind in INDICATORS},
                              "HIGH_VOLUME": x})["HIGH_VOLUME"]

    (m1, s1), (m2, s2) = baseline(800), baseline(1_250)
    assert m1 == pytest.approx(m2) and s1 == pytest.approx(s2)
    assert m1 == pytest.approx(float(np.median(np.log1p(volumes))), abs=0.05)
