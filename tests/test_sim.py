"""Simulator: determinism, format, labels and each profile's defining behaviour."""

from __future__ import annotations

import gzip
import hashlib
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from distillwatch.errors import ConfigError
from distillwatch.ingest import validate_account_record, validate_traffic_record
from distillwatch.sim import SCENARIOS, simulate

pytestmark = pytest.mark.slow


def _digest(d: Path) -> str:
    h = hashlib.sha256()
    for name in ("traffic.jsonl.gz", "accounts.jsonl", "labels.jsonl"):
        h.update((d / name).read_bytes())
    return h.hexdigest()


def _load(d: Path) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]],
                            dict[str, dict[str, Any]]]:
    with gzip.open(d / "traffic.jsonl.gz", "rb") as fh:
        traffic = [orjson.loads(line) for line in fh]
    accounts = {r["account_id"]: r for r in map(orjson.loads,
                                                 (d / "accounts.jsonl").read_bytes().splitlines())}
    labels = {r["account_id"]: r for r in map(orjson.loads,
                                               (d / "labels.jsonl").read_bytes().splitlines())}
    return traffic, accounts, labels


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, Any]],
                                                            dict[str, dict[str, Any]],
                                                            dict[str, dict[str, Any]]]:
    out = tmp_path_factory.mktemp("sim")
    simulate(out, scenario="mixed", accounts=90, days=6, seed=11)
    return _load(out)


def _by_profile(run: Any) -> dict[str, list[dict[str, Any]]]:
    traffic, _, labels = run
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in traffic:
        out[labels[r["account_id"]]["profile"]].append(r)
    return out


def _user_text(rec: dict[str, Any]) -> str:
    req = rec["request"]
    if "messages" not in req:
        return str(req.get("prompt") or req.get("input"))
    parts = []
    for m in req["messages"]:
        c = m.get("content")
        if isinstance(c, list):
            parts += [p["text"] for p in c]
        elif isinstance(c, str):
            parts.append(c)
    return "\n".join(parts)


def test_same_seed_same_bytes_and_different_seed_differs(tmp_path: Path) -> None:
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        simulate(tmp_path / name, accounts=30, days=2, seed=seed)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")


def test_every_record_validates_and_is_in_time_order(run: Any) -> None:
    traffic, accounts, _ = run
    assert len(traffic) > 1000
    for r in traffic:
        assert validate_traffic_record(r) is None, r
        assert r["ts"].endswith("Z") and len(r["ts"]) == 24
    keys = [(r["ts"], r["request_id"]) for r in traffic]
    assert keys == sorted(keys)
    assert len({r["request_id"] for r in traffic}) == len(traffic)
    for row in accounts.values():
        assert validate_account_record(row) is None


def test_format_variety(run: Any) -> None:
    traffic, _, _ = run
    endpoints = Counter(r["endpoint"] for r in traffic)
    statuses = Counter(r["status"] for r in traffic)
    assert endpoints["/v1/chat/completions"] and statuses[429] and statuses[200]
    assert any(r["response"] is None for r in traffic if r["status"] != 200)
    contents = [m["content"] for r in traffic for m in r["request"].get("messages", [])]
    assert any(isinstance(c, list) for c in contents) and any(isinstance(c, str) for c in contents)
    addresses = {r["client_ip"] for r in traffic}
    assert any(":" in ip for ip in addresses) and any("." in ip for ip in addresses)
    assert any("tools" in r["request"] for r in traffic)
    for r in traffic:
        for ch in (r["response"] or {}).get("choices", []):
            msg = ch.get("message") or {}
            assert len(msg.get("content") or "") <= 1500
            assert len(msg.get("reasoning_content") or "") <= 1500


def test_labels_are_consistent(run: Any) -> None:
    traffic, accounts, labels = run
    assert set(labels) == set(accounts)
    assert {r["account_id"] for r in traffic} <= set(labels)
    for lab in labels.values():
        assert (lab["campaign"] is None) == (lab["label"] == "benign")
    rings = [lab for lab in labels.values() if lab["profile"] == "ring"]
    assert rings and len({lab["campaign"] for lab in rings}) < len(rings)
    assert all(a.startswith("acct_") for a in accounts)


def test_no_profile_names_leak(run: Any) -> None:
    traffic, accounts, labels = run
    words = {lab["profile"] for lab in labels.values()} | {"harvest", "benign"}
    blob = orjson.dumps(list(accounts.values())).decode()
    agents = {r["user_agent"] for r in traffic}
    for w in words:
        assert w not in blob
        assert not any(w in ua for ua in agents)


def test_every_profile_appears_in_small_scale_scenario(run: Any) -> None:
    _, _, labels = run
    profiles = {lab["profile"] for lab in labels.values()}
    assert profiles >= set(SCENARIOS["mixed"].mix) | {"ring"}


def test_ring_members_share_infrastructure(run: Any) -> None:
    traffic, accounts, labels = run
    ips: dict[str, set[str]] = defaultdict(set)
    for r in traffic:
        ips[r["account_id"]].add(r["client_ip"])
    by_campaign: dict[str, list[str]] = defaultdict(list)
    for a, lab in labels.items():
        if lab["profile"] == "ring":
            by_campaign[lab["campaign"]].append(a)

    def sharing(ids: list[str]) -> float:
        pays = Counter(accounts[a]["payment_fingerprint"] for a in ids)
        doms = Counter(accounts[a]["email_domain"] for a in ids)
        shared_ip = sum(1 for a in ids for b in ids if a < b and ips[a] & ips[b])
        return (max(pays.values()) + max(doms.values())) / len(ids) + shared_ip

    shared_scores = [sharing(ids) for ids in by_campaign.values()]
    benign = [a for a, lab in labels.items() if lab["label"] == "benign"][:15]
    assert max(shared_scores) > sharing(benign)


def test_eval_lab_repeats_items_across_models(run: Any) -> None:
    prompts: dict[str, set[str]] = defaultdict(set)
    for r in _by_profile(run)["eval_lab"]:
        prompts[_user_text(r)].add(r["request"]["model"])
    assert max(len(m) for m in prompts.values()) >= 2


def test_batch_job_one_template_temperature_zero_at_night(run: Any) -> None:
    traffic, _accounts, _labels = run
    for a in {r["account_id"] for r in _by_profile(run)["batch_job"]}:
        recs = [r for r in traffic if r["account_id"] == a]
        temps = Counter(r["request"].get("temperature") for r in recs)
        assert temps[0.0] == len(recs)
        firsts = Counter(_user_text(r).split()[0] for r in recs)
        assert firsts.most_common(1)[0][1] / len(recs) > 0.9
        hours = Counter(int(r["ts"][11:13]) for r in recs)
        busiest = sum(n for _, n in hours.most_common(7))
        assert busiest / len(recs) > 0.9          # a few-hour window, not all day


def test_logprob_harvester(run: Any) -> None:
    recs = _by_profile(run)["logprob_harvest"]
    assert recs
    for r in recs:
        assert r["request"]["top_logprobs"] == 20 and r["request"]["max_tokens"] <= 16
    ok = [r for r in recs if r["status"] == 200]
    assert all(len(r["response"]["choices"][0]["logprobs"]["content"][0]["top_logprobs"]) == 20
               for r in ok)
    assert any("logit_bias" in r["request"] for r in recs)


def test_reasoning_harvester_elicits_cot_in_languages(run: Any) -> None:
    recs = _by_profile(run)["reasoning_harvest"]
    scripts = set()
    for r in recs:
        text = _user_text(r)
        assert r["request"]["reasoning_effort"] == "high" and r["request"]["n"] >= 2
        if any("\u4e00" <= ch <= "\u9fff" for ch in text):
            scripts.add("cjk")
        elif any("\u0400" <= ch <= "\u04ff" for ch in text):
            scripts.add("cyrillic")
        else:
            scripts.add("latin")
        ok = r["response"]
        if ok:
            assert ok["usage"]["completion_tokens_details"]["reasoning_tokens"] > 0
    langs = {
        phrase for r in recs for phrase in ("step by step", "paso a paso", "Schritt für Schritt",
                                            "étape par étape", "шаг за шагом", "一步一步", "逐步",
                                            "passo a passo", "段階的", "단계별")
        if phrase in _user_text(r)
    }
    assert len(langs) >= 2


def test_mimicry_mixes_a_small_fraction(run: Any) -> None:
    recs = _by_profile(run)["mimicry"]
    big = [r for r in recs if (r["request"].get("max_tokens") or 0) >= 4096]
    assert recs and 0 < len(big) / len(recs) < 0.25


def test_pivot_moves_to_new_model_after_release(tmp_path: Path) -> None:
    s = simulate(tmp_path, accounts=60, days=6, seed=2)
    traffic, _, labels = _load(tmp_path)
    piv = [r for r in traffic if labels[r["account_id"]]["profile"] == "pivot"]
    before = [r for r in piv if r["ts"] < s.release_ts]
    after = [r for r in piv if r["ts"] > s.release_ts[:10] + "T23:59:59"]
    assert not any(r["request"]["model"] == "nova-4" for r in traffic if r["ts"] < s.release_ts)
    assert after and sum(r["request"]["model"] == "nova-4" for r in after) / len(after) > 0.6
    assert not before or sum(r["request"]["model"] == "nova-4" for r in before) == 0


def test_bad_options_raise_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        simulate(tmp_path, scenario="nope")
    with pytest.raises(ConfigError):
        simulate(tmp_path, accounts=0)


def test_cli_writes_files(tmp_path: Path) -> None:
    from distillwatch.cli._simulate import simulate as cmd

    result = CliRunner().invoke(cmd, ["--out", str(tmp_path), "--accounts", "25", "--days", "1",
                                      "--seed", "4"])
    assert result.exit_code == 0, result.output
    assert "calls" in result.output
    assert (tmp_path / "labels.jsonl").exists()
