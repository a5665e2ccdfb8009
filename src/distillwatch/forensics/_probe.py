"""Put a suspect model through every test its case allows, within a query budget.

The tests, each one-sided with its null stated in :data:`NULLS`; Holm's correction runs over
every (account, test) p-value together, so the family-wise false-accusation rate is at most
``alpha`` whatever the number of accounts and tests.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from distillwatch.errors import ConfigError
from distillwatch.forensics._canary import canary_slot, recall_score
from distillwatch.forensics._case import Case
from distillwatch.forensics._client import BudgetExhausted, SuspectClient
from distillwatch.forensics._keys import KeyRing
from distillwatch.forensics._registry import CanaryRegistry
from distillwatch.forensics._stats import graded_canary_test, holm, two_proportion_test
from distillwatch.forensics._tokenize import UNKNOWN, WordVocab, words
from distillwatch.forensics._watermark import mode_test, score_tokens

__all__ = ["NULLS", "ProbeConfig", "TestRecord", "run_probe"]

NULLS = {
    "canary_recall": (
        "The suspect never saw the canaries served to this account: within each slot the served "
        "canary (picked uniformly by the key among itself and its decoys, drawn the same way) "
        "is no more likely to be recalled than a decoy. Statistic: the served canaries' summed "
        "recall scores (the whole value scores its length + 1, else the leading digits of the "
        "value an answer's number starts with). Exact conditional test: within each slot the "
        "served score is a uniform draw from the slot's scores; the law of the sum is their "
        "convolution (with 0/1 scores a Poisson-binomial, the sign test with one decoy)."),
    "watermark_radioactivity": (
        "The suspect's text does not depend on this account's watermark key: each distinct "
        "(context, token) pair of its generations is green with probability gamma, "
        "independently. Exact binomial test over distinct pairs (each counted once)."),
    "watermark_mode": (
        "The suspect's next-token law does not depend on this account's watermark key: the most "
        "frequent next token of each distinct context (ties to the smallest id) is green with "
        "probability gamma. Exact binomial test over contexts."),
    "corroboration": (
        "The suspect agrees with our model no more often than with the least-agreeing-with-"
        "suspect reference model of other origin (one-sided two-proportion z-test against each "
        "reference; the largest p-value is reported). Corroboration only: shared training "
        "data can explain agreement, so this never names a leak on its own."),
}
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class ProbeConfig:
    alpha: float = 0.01
    seed: int = 0
    canary_max_tokens: int = 8
    generations: int | None = None
    samples_per_request: int = 1


@dataclass
class TestRecord:
    test: str
    role: str
    account_id: str | None
    key_id: str | None
    statistic: dict[str, Any]
    p_value: float
    queries: int
    complete: bool
    p_holm: float = 1.0
    significant: bool = False
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"test": self.test, "role": self.role, "account_id": self.account_id,
                "key_id": self.key_id, "null": NULLS[self.test], "statistic": self.statistic,
                "p_value": self.p_value, "p_holm": self.p_holm, "significant": self.significant,
                "queries": self.queries, "complete": self.complete, "notes": self.notes}


def _mean(values: Sequence[int]) -> float:
    return round(sum(values) / len(values), 4) if values else 0.0


def _spent(client: SuspectClient, test: str) -> int:
    return sum(e.completions for e in client.exchanges if e.test == test)


def _canaries(case: Case, client: SuspectClient, ring: KeyRing, cfg: ProbeConfig,
              progress: Progress) -> list[TestRecord]:
    assert case.registry is not None
    registry = CanaryRegistry(case.registry)
    rng = random.Random(cfg.seed)
    plan: list[tuple[str, int, int, Any]] = []  # (account, row index, candidate index, canary)
    per_account: dict[str, list[Any]] = {}
    key_ids: dict[str, str] = {}
    for account in case.accounts:
        rows = registry.served(account)
        per_account[account] = rows
        for r_i, row in enumerate(rows):
            key = ring.key(account, "canary", row.key_version)
            key_ids[account] = key.key_id
            served, decoys = canary_slot(key, row.slot, row.n_decoys)
            if served.canary_id != row.canary_id:
                raise ConfigError(
                    f"canary registry row (account {account}, slot {row.slot}) does not match "
                    f"the key of secret version {row.key_version}: wrong secret file?")
            plan.extend((account, r_i, c.candidate, c) for c in (served, *decoys))
    rng.shuffle(plan)  # the suspect cannot tell served from decoy by the order of questions
    answers: dict[tuple[str, int, int], tuple[int, bool]] = {}
    exhausted = False
    for i, (account, r_i, cand, canary) in enumerate(plan):
        prompt = canary.prefix() if case.canary_prompt == "prefix" else canary.question()
        try:
            (text,) = client.complete(prompt, test="canary_recall",
                                      max_tokens=cfg.canary_max_tokens)
        except BudgetExhausted:
            exhausted = True
            break
        score = recall_score(canary, text)
        answers[(account, r_i, cand)] = (score, score > len(canary.value))
        progress("canary recall", i + 1, len(plan))
    records = []
    for account in case.accounts:
        slots: list[list[tuple[int, bool]]] = []
        for r_i, row in enumerate(per_account[account]):
            key = ring.key(account, "canary", row.key_version)
            served, decoys = canary_slot(key, row.slot, row.n_decoys)
            got = [answers.get((account, r_i, c.candidate)) for c in (served, *decoys)]
            if all(g is not None for g in got):
                slots.append([g for g in got if g is not None])
        notes = [] if per_account[account] else ["no canary was served to this account"]
        if exhausted:
            notes.append("budget ran out: slots not fully asked are left out")
        records.append(TestRecord(
            "canary_recall", "evidence", account, key_ids.get(account),
            {"served": len(per_account[account]), "slots_tested": len(slots),
             "served_reproduced": sum(slot[0][1] for slot in slots),
             "decoys_reproduced": sum(hit for slot in slots for _, hit in slot[1:]),
             "served_score": sum(slot[0][0] for slot in slots),
             "served_score_mean": _mean([slot[0][0] for slot in slots]),
             "decoy_score_mean": _mean([sc for slot in slots for sc, _ in slot[1:]]),
             "decoys_per_slot": sorted({len(slot) - 1 for slot in slots})},
            graded_canary_test([[sc for sc, _ in slot] for slot in slots]),
            sum(1 for k in answers if k[0] == account), not exhausted,
            notes=notes))
    return records


def _generations(case: Case, client: SuspectClient, vocab: WordVocab, share: int | None,
                 cfg: ProbeConfig, progress: Progress) -> tuple[list[list[int]], bool]:
    assert case.scheme is not None
    c = case.scheme.context
    total = cfg.generations or len(case.prompts)
    if share is not None:
        total = min(total, share)
    seqs: list[list[int]] = []
    per = max(1, cfg.samples_per_request)
    for i in range(0, total, per):
        prompt = case.prompts[(i // per) % len(case.prompts)]
        try:
            texts = client.complete(prompt, test="watermark_radioactivity",
                                    max_tokens=case.max_tokens, temperature=1.0,
                                    n=min(per, total - i), seed=cfg.seed * 1_000_003 + i)
        except BudgetExhausted:
            return seqs, False
        tail = vocab.encode(prompt)[-c:]
        seqs.extend(tail + vocab.encode(text) for text in texts)
        progress("watermark radioactivity", min(i + per, total), total)
    return seqs, total == (cfg.generations or len(case.prompts))


def _mode_contexts(prompts: Sequence[str], vocab: WordVocab, c: int,
                   limit: int) -> dict[tuple[int, ...], str]:
    """Distinct contexts ending word-prefixes of the prompts, the most frequent first (the
    contexts a student most likely learned), each with the first prefix that ends in it."""
    first: dict[tuple[int, ...], str] = {}
    freq: Counter[tuple[int, ...]] = Counter()
    for prompt in prompts:
        parts = prompt.split()
        for k in range(1, len(parts) + 1):
            prefix = " ".join(parts[:k])
            ctx = tuple(vocab.encode(prefix)[-c:])
            if len(ctx) == c and UNKNOWN not in ctx:
                freq[ctx] += 1
                first.setdefault(ctx, prefix)
    ranked = sorted(freq, key=lambda x: (-freq[x], x))[:limit]
    return {ctx: first[ctx] for ctx in ranked}


def _mode_samples(case: Case, client: SuspectClient, vocab: WordVocab, share: int | None,
                  progress: Progress) -> tuple[list[tuple[list[int], list[int]]], bool]:
    assert case.scheme is not None
    c = case.scheme.context
    contexts = _mode_contexts(case.prompts, vocab, c, case.mode_contexts)
    out: list[tuple[list[int], list[int]]] = []
    budget_left = share
    for i, (ctx, prompt) in enumerate(contexts.items()):
        if budget_left is not None and budget_left < case.mode_samples:
            return out, False
        try:
            texts = client.complete(prompt, test="watermark_mode", max_tokens=2,
                                    temperature=1.0, n=case.mode_samples)
        except BudgetExhausted:
            return out, False
        if budget_left is not None:
            budget_left -= case.mode_samples
        nexts = [ids[0] for ids in (vocab.encode(t) for t in texts) if ids and ids[0] != UNKNOWN]
        out.append((list(ctx), nexts))
        progress("watermark mode test", i + 1, len(contexts))
    return out, True


def _watermark(case: Case, client: SuspectClient, ring: KeyRing, cfg: ProbeConfig,
               progress: Progress) -> list[TestRecord]:
    assert case.scheme is not None and case.vocab is not None
    vocab = WordVocab.load(case.vocab)
    left = client.remaining()
    mode_share = None if left is None else left // 2 if case.mode_contexts else 0
    samples: list[tuple[list[int], list[int]]] = []
    mode_done = True
    if case.mode_contexts:
        samples, mode_done = _mode_samples(case, client, vocab, mode_share, progress)
    left = client.remaining()
    seqs, gen_done = _generations(case, client, vocab, left, cfg, progress)
    records = []
    ignore = frozenset({UNKNOWN})
    for account in case.accounts:
        key = ring.key(account, "watermark", case.key_versions.get(account))
        score = score_tokens(key, case.scheme, seqs, ignore=ignore)
        records.append(TestRecord(
            "watermark_radioactivity", "evidence", account, key.key_id,
            {"generations": len(seqs), "tokens": sum(len(s) for s in seqs),
             "distinct_pairs": score.pairs, "green_pairs": score.green, "gamma": score.gamma,
             "z": round(score.z, 4), "context": case.scheme.context},
            score.p_value, _spent(client, "watermark_radioactivity"), gen_done,
            notes=["generations shared by every account's key in this file"]))
        if case.mode_contexts:
            mode = mode_test(key, case.scheme, samples)
            records.append(TestRecord(
                "watermark_mode", "evidence", account, key.key_id,
                {"contexts": mode.contexts, "green_modes": mode.green_modes,
                 "gamma": mode.gamma, "samples_per_context": case.mode_samples},
                mode.p_value, _spent(client, "watermark_mode"), mode_done,
                notes=["samples shared by every account's key in this file"]))
    return records


def _agree(a: str, b: str, n: int) -> bool:
    wa, wb = words(a)[:n], words(b)[:n]
    return len(wa) == n and wa == wb


def _corroboration(case: Case, client: SuspectClient, progress: Progress) -> list[TestRecord]:
    n = case.match_tokens
    agree_ours = 0
    agree_ref: dict[str, int] = {}
    asked = 0
    complete = True
    for i, item in enumerate(case.corroboration):
        try:
            (text,) = client.complete(item.prompt, test="corroboration", max_tokens=n + 2)
        except BudgetExhausted:
            complete = False
            break
        asked += 1
        agree_ours += _agree(text, item.ours, n)
        for name, ref in item.references.items():
            agree_ref[name] = agree_ref.get(name, 0) + _agree(text, ref, n)
        progress("corroboration", i + 1, len(case.corroboration))
    per_ref = {name: two_proportion_test(agree_ours, asked, x, asked)
               for name, x in sorted(agree_ref.items())}
    p = max(per_ref.values()) if per_ref else 1.0
    return [TestRecord(
        "corroboration", "corroboration", None, None,
        {"prompts": asked, "match_tokens": n, "agree_ours": agree_ours,
         "agree_references": dict(sorted(agree_ref.items())),
         "p_per_reference": per_ref},
        p, _spent(client, "corroboration"), complete)]


def run_probe(case: Case, client: SuspectClient, ring: KeyRing, cfg: ProbeConfig | None = None,
              progress: Progress | None = None) -> list[TestRecord]:
    """Run the case's tests (canaries first: the most evidence per query), then Holm."""
    cfg = cfg or ProbeConfig()
    tick: Progress = progress or (lambda _s, _d, _t: None)
    records: list[TestRecord] = []
    if case.registry is not None:
        records += _canaries(case, client, ring, cfg, tick)
    if case.corroboration:
        records += _corroboration(case, client, tick)
    if case.scheme is not None:
        records += _watermark(case, client, ring, cfg, tick)
    for record, adjusted in zip(records, holm([r.p_value for r in records]), strict=True):
        record.p_holm = adjusted
        record.significant = adjusted < cfg.alpha
    return records
