"""Harvesting profiles. Each draws a stealth knob s in [0, 1] per account (see docs/simulator.md).

Stealth trades yield for cover: lower volume and rate, human-looking diurnal load instead of a
flat 24/7 stream, more paraphrased prompt wrappers, residential addresses instead of cloud ones,
and (for mimicry) a smaller harvest fraction mixed into real traffic.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from distillwatch.sim import _identity as ident
from distillwatch.sim._base import (
    DAY_MS,
    FLAT,
    HUMAN,
    MODELS,
    Account,
    Batch,
    Context,
    Profile,
    Rng,
    lognormal_tokens,
)
from distillwatch.sim._benign import AppFeatures, _rate
from distillwatch.sim._common import identity, pick
from distillwatch.sim._render import content, emit, model_for

__all__ = ["BulkSweep", "CodeHarvest", "LogprobHarvest", "Mimicry", "Pivot", "ReasoningHarvest",
           "Ring", "SlowLow"]

WRAPPERS = (
    "{q}", "{q}\n\nPlease give a detailed, well-structured answer.",
    "Answer the following thoroughly.\n\n{q}", "Instruction: {q}\nResponse:",
    "### Instruction:\n{q}\n\n### Response:", "{q} Be comprehensive and include examples.",
    "Please respond to the request below as a helpful expert.\n\n{q}",
    "Task: {q}\nWrite a complete answer.", "{q}\n\n(Answer in full, with headings where useful.)",
    "I need help with this: {q}", "{q}\nExplain your answer.", "Q: {q}\nA:",
)
SYSTEMS = (None, "You are a helpful assistant.",
           "You are a helpful, knowledgeable assistant. Provide thorough, accurate answers.",
           "You are an expert. Answer carefully and completely.")

#: chain-of-thought elicitation by language: (problem label, instruction variants)
COT: dict[str, tuple[str, tuple[str, ...]]] = {
    "en": ("Problem:", ("Think step by step and show all of your reasoning before giving the "
                        "final answer.", "Let's think step by step.",
                        "Explain your reasoning in detail, then give the final answer on its own "
                        "line.")),
    "zh": ("问题：", ("请一步一步地思考，并详细写出推理过程，最后给出答案。",
                    "请逐步推理，写出完整的思考过程。")),
    "es": ("Problema:", ("Piensa paso a paso y muestra todo tu razonamiento antes de dar la "
                         "respuesta final.",)),
    "ru": ("Задача:", ("Рассуждай шаг за шагом и подробно объясни ход решения, затем дай "
                       "окончательный ответ.",)),
    "fr": ("Problème :", ("Réfléchis étape par étape et montre tout ton raisonnement avant de "
                          "donner la réponse finale.",)),
    "de": ("Aufgabe:", ("Denke Schritt für Schritt nach und zeige deinen gesamten Lösungsweg, "
                        "bevor du die endgültige Antwort gibst.",)),
    "ja": ("問題：", ("段階的に考え、最終的な答えを出す前にすべての推論を示してください。",)),
    "pt": ("Problema:", ("Pense passo a passo e mostre todo o seu raciocínio antes da resposta "
                         "final.",)),
    "ko": ("문제:", ("단계별로 생각하고 최종 답을 제시하기 전에 모든 추론 과정을 보여 주세요.",)),
}
LANGS = tuple(COT)


def _harvest_identity(a: Account, rng: Rng, ctx: Context, *, keys: tuple[int, int] = (1, 3),
                      age: tuple[float, float] = (5, 240)) -> None:
    s = a.stealth
    family = ident.RESIDENTIAL if rng.random() < s else pick(rng, (ident.CLOUD, ident.PROXY))
    email = pick(rng, ("consumer", "company", "throwaway"))
    identity(a, rng, ctx, email=email, age=age, tier=(1, 5), keys=keys, family=family,
             n_ips=(1, 3 + int(6 * s)), v6=0.15,
             agents=(*ident.SDK_AGENTS[:6], "python-requests/2.32.3", "python-httpx/0.27.2"))


class _Harvester(Profile):
    """Shared machinery: stealth-dependent volume, load curve, wrappers and rate limiting."""

    label = "harvester"
    base_rate = 3000.0
    pool_names: tuple[str, ...] = ("sweep",)

    def setup(self, a: Account, rng: Rng, ctx: Context) -> None:
        a.stealth = float(rng.beta(1.3, 1.3))
        _harvest_identity(a, rng, ctx)
        self.common(a, rng)

    def common(self, a: Account, rng: Rng) -> None:
        s = a.stealth
        a.rate = _rate(rng, self.base_rate, 0.5) * (1.0 - 0.85 * s)
        k = 1 + round(s * (len(WRAPPERS) - 1))
        a.p.update(
            wrappers=[WRAPPERS[int(i)] for i in rng.choice(len(WRAPPERS), k, replace=False)],
            system=pick(rng, SYSTEMS), mimic=bool(s > 0.45),
            p429=0.01 + 0.12 * (1 - s) ** 2, parts=bool(rng.random() < 0.25),
            temperature=pick(rng, (0.7, 1.0, 0.8, None)),
            max_tokens=pick(rng, (4096, 8192, 8192, 16000)) if s < 0.6 else pick(rng, (2048,
                                                                                       4096)),
            tok_median=900, tok_sigma=0.6, offset=int(rng.integers(0, 10**6)),
        )

    def times(self, a: Account, day: int, n: int, rng: Rng, ctx: Context) -> np.ndarray:
        curve = HUMAN if a.p.get("mimic") else FLAT
        hours = rng.choice(24, n, p=a.hours(curve))
        return hours * 3_600_000 + rng.integers(0, 3_600_000, n)

    def fill(self, a: Account, day: int, ts: np.ndarray, rng: Rng, ctx: Context) -> Batch:
        b = super().fill(a, day, ts, rng, ctx)
        # walk the task list with few repeats: a per-account offset plus a running counter
        b.item = a.p["offset"] + int(day * a.rate * 1.3) + np.arange(len(ts))
        return b

    def prompt(self, a: Account, ctx: Context, item: int, bits: int) -> str:
        pool = getattr(ctx.bank, self.pool_names[item % len(self.pool_names)])
        text: str = pool[(item // len(self.pool_names)) % len(pool)]
        wrappers: list[str] = a.p["wrappers"]
        return wrappers[(bits >> 3) % len(wrappers)].replace("{q}", text)

    def messages(self, a: Account, text: str) -> tuple[list[dict[str, Any]], int]:
        msgs: list[dict[str, Any]] = []
        chars = len(text)
        if a.p["system"]:
            msgs.append({"role": "system", "content": a.p["system"]})
            chars += len(a.p["system"])
        msgs.append({"role": "user", "content": content(a, text)})
        return msgs, chars

    def render(self, a: Account, b: Batch, j: int, ctx: Context) -> dict[str, Any]:
        c = b.cols
        bits = c["bits"][j]
        text = self.prompt(a, ctx, c["item"][j], bits)
        msgs, chars = self.messages(a, text)
        model = model_for(a, ctx, b.day, c["ts"][j], bits, MODELS["flagship"])
        req: dict[str, Any] = {"model": model, "messages": msgs, "max_tokens": a.p["max_tokens"]}
        if a.p["temperature"] is not None:
            req["temperature"] = a.p["temperature"]
        replies = ctx.replies.prose
        return emit(a, b, j, ctx, req, prompt_chars=chars,
                    texts=[replies[(bits >> 6) % len(replies)]], max_tokens=a.p["max_tokens"])


class BulkSweep(_Harvester):
    """A broad single-turn instruction sweep over many topics with high max_tokens."""

    name = "bulk_sweep"
    base_rate = 5000.0
    pool_names = ("sweep", "sweep", "sweep", "math_harvest", "code_harvest")


class CodeHarvest(_Harvester):
    """Code tasks asking for complete, explained solutions, sometimes several samples."""

    name = "code_harvest"
    base_rate = 2500.0
    pool_names = ("code_harvest",)

    def setup(self, a: Account, rng: Rng, ctx: Context) -> None:
        super().setup(a, rng, ctx)
        a.p.update(n=pick(rng, (1, 1, 2, 3)), tok_median=1100,
                   system=pick(rng, (None, "You are a senior software engineer. Write complete, "
                                           "idiomatic, well-tested code and explain it.")))

    def render(self, a: Account, b: Batch, j: int, ctx: Context) -> dict[str, Any]:
        c = b.cols
        bits = c["bits"][j]
        text = self.prompt(a, ctx, c["item"][j], bits)
        msgs, chars = self.messages(a, text)
        model = model_for(a, ctx, b.day, c["ts"][j], bits, MODELS["flagship"])
        req: dict[str, Any] = {"model": model, "messages": msgs, "max_tokens": a.p["max_tokens"],
                               "n": a.p["n"]}
        if a.p["temperature"] is not None:
            req["temperature"] = a.p["temperature"]
        code = ctx.replies.code
        texts = [code[((bits >> 6) + i) % len(code)] for i in range(a.p["n"])]
        return emit(a, b, j, ctx, req, prompt_chars=chars, texts=texts,
                    max_tokens=a.p["max_tokens"])


class ReasoningHarvest(_Harvester):
    """Math and code with chain-of-thought elicitation in several languages, n > 1, reasoning
    models at high effort."""

    name = "reasoning_harvest"
    base_rate = 1500.0
    pool_names = ("math_harvest", "math_harvest", "code_harvest")

    def setup(self, a: Account, rng: Rng, ctx: Context) -> None:
        super().setup(a, rng, ctx)
        k = int(rng.integers(2, 6))
        langs = ["en", *[LANGS[int(i)] for i in rng.choice(np.arange(1, len(LANGS)), k - 1,
                                                              replace=False)]]
        a.p.update(langs=langs, n=int(rng.integers(2, 9 - int(5 * a.stealth))),
                   in_system=bool(rng.random() < 0.5), tok_median=3500, tok_sigma=0.5,
                   max_tokens=pick(rng, (16000, 32000, 32768)),
                   model=pick(rng, (MODELS["reason"], MODELS["reason"], MODELS["reason_mini"])))

    def render(self, a: Account, b: Batch, j: int, ctx: Context) -> dict[str, Any]:
        c = b.cols
        bits, item = c["bits"][j], c["item"][j]
        pool = getattr(ctx.bank, self.pool_names[item % 3])
        problem = pool[(item // 3) % len(pool)]
        langs: list[str] = a.p["langs"]
        label, cots = COT[langs[(bits >> 3) % len(langs)]]
        cot = cots[(bits >> 7) % len(cots)]
        if a.p["in_system"]:
            msgs: list[dict[str, Any]] = [{"role": "system", "content": cot},
                                          {"role": "user", "content": content(a, f"{label} "
                                                                              f"{problem}")}]
        else:
            msgs = [{"role": "user", "content": content(a, f"{label} {problem}\n\n{cot}")}]
        chars = len(problem) + len(cot) + 10
        model = model_for(a, ctx, b.day, c["ts"][j], bits, a.p["model"])
        req = {"model": model, "messages": msgs, "n": a.p["n"], "reasoning_effort": "high",
               "max_completion_tokens": a.p["max_tokens"]}
        math, reason = ctx.replies.math, ctx.replies.reason
        texts = [math[((bits >> 9) + i) % len(math)] for i in range(a.p["n"])]
        return emit(a, b, j, ctx, req, prompt_chars=chars, texts=texts, reasoning_share=0.8,
                    reasoning_text=reason[(bits >> 11) % len(reason)],
                    max_tokens=a.p["max_tokens"])


class LogprobHarvest(_Harvester):
    """Distribution probing: logprobs with top_logprobs=20, tiny max_tokens, logit_bias probes."""

    name = "logprob_harvest"
    base_rate = 8000.0
    pool_names = ("sweep",)

    def setup(self, a: Account, rng: Rng, ctx: Context) -> None:
        super().setup(a, rng, ctx)
        a.p.update(max_tokens=pick(rng, (1, 1, 4, 8, 16)), probe=float(rng.uniform(0.2, 0.7)),
                   temperature=pick(rng, (0.0, 1.0)), tok_median=4, tok_sigma=0.5)

    def render(self, a: Account, b: Batch, j: int, ctx: Context) -> dict[str, Any]:
        c = b.cols
        bits = c["bits"][j]
        text = self.prompt(a, ctx, c["item"][j], bits)
        msgs, chars = self.messages(a, text)
        req: dict[str, Any] = {"model": model_for(a, ctx, b.day, c["ts"][j], bits,
                                                  MODELS["flagship"]),
                               "messages": msgs, "max_tokens": a.p["max_tokens"],
                               "temperature": a.p["temperature"], "logprobs": True,
                               "top_logprobs": 20}
        if (bits >> 20) % 100 < a.p["probe"] * 100:
            tok = 1000 + (c["item"][j] * 7919) % 98000
            req["logit_bias"] = {str(tok): (100, -100, 5, -5)[(bits >> 27) % 4],
                                 str(tok + 1): (100, -100, 5, -5)[(bits >> 25) % 4]}
        c["ctok"][j] = min(c["ctok"][j], a.p["max_tokens"])
        short = ctx.replies.short
        return emit(a, b, j, ctx, req, prompt_chars=chars,
                    texts=[short[(bits >> 6) % len(short)]], logprobs_k=20,
                    max_tokens=a.p["max_tokens"])


class SlowLow(_Harvester):
    """Low and slow: a few dozen calls a day at most, human-looking hours, for weeks."""

    name = "slow_low"
    base_rate = 40.0
    fixed_rate = True
    pool_names = ("sweep", "math_harvest", "code_harvest")

    def setup(self, a: Account, rng: Rng, ctx: Context) -> None:
        a.stealth = float(rng.uniform(0.6, 1.0))
        _harvest_identity(a, rng, ctx, keys=(1, 1), age=(20, 400))
        self.common(a, rng)
        a.p.update(mimic=True, p429=0.0)


class Mimicry(AppFeatures):
    """A real app account that mixes a small share of harvest calls into its normal traffic."""

    name = "mimicry"
    label = "harvester"

    def setup(self, a: Account, rng: Rng, ctx: Context) -> None:
        super().setup(a, rng, ctx)
        a.stealth = float(rng.beta(1.3, 1.3))
        a.p.update(mix=0.10 - 0.08 * a.stealth,
                   harvest_system=pick(rng, SYSTEMS[1:]), harvest_max=pick(rng, (4096, 8192)))

    def fill(self, a: Account, day: int, ts: np.ndarray, rng: Rng, ctx: Context) -> Batch:
        b = super().fill(a, day, ts, rng, ctx)
        harvest = rng.random(len(ts)) < a.p["mix"]
        b.aux = harvest.astype(np.int64)
        b.ctok = np.where(harvest, lognormal_tokens(rng, len(ts), 1200, 0.5, a.p["harvest_max"]),
                          b.ctok)
        return b

    def render(self, a: Account, b: Batch, j: int, ctx: Context) -> dict[str, Any]:
        c = b.cols
        if not c["aux"][j]:
            return super().render(a, b, j, ctx)
        bits, item = c["bits"][j], c["item"][j]
        pools = (ctx.bank.sweep, ctx.bank.math_harvest, ctx.bank.code_harvest)
        pool = pools[item % 3]
        text = pool[(item // 3) % len(pool)]
        req = {"model": model_for(a, ctx, b.day, c["ts"][j], bits, MODELS["flagship"]),
               "messages": [{"role": "system", "content": a.p["harvest_system"]},
                            {"role": "user", "content": content(a, text)}],
               "max_tokens": a.p["harvest_max"], "temperature": 0.7}
        return emit(a, b, j, ctx, req, prompt_chars=len(text) + 40,
                    texts=[ctx.replies.prose[(bits >> 6) % len(ctx.replies.prose)]],
                    max_tokens=a.p["harvest_max"])


class Ring(_Harvester):
    """A sybil ring member: its shard of a shared task list, shared or paraphrased templates."""

    name = "ring"
    base_rate = 900.0

    def setup(self, a: Account, rng: Rng, ctx: Context) -> None:
        g = a.group or {}
        a.stealth = float(g.get("stealth", rng.beta(1.3, 1.3)))
        _harvest_identity(a, rng, ctx, keys=(3, 15))
        self.common(a, rng)
        if g.get("wrappers") and a.stealth < 0.5:       # the shared template, verbatim
            a.p["wrappers"] = list(g["wrappers"])
        a.p.update(pools=g.get("pools", ("sweep",)), member=int(g.get("member", 0)),
                   size=int(g.get("size", 1)), system=g.get("system", a.p["system"]),
                   max_tokens=g.get("max_tokens", a.p["max_tokens"]))
        a.agents = list(g.get("agents", a.agents))

    def fill(self, a: Account, day: int, ts: np.ndarray, rng: Rng, ctx: Context) -> Batch:
        b = Profile.fill(self, a, day, ts, rng, ctx)
        # member m takes items m, m + size, m + 2 size, …: the ring partitions one task list
        start = int(day * a.rate * 1.3)
        b.item = a.p["member"] + a.p["size"] * (start + np.arange(len(ts)))
        return b

    def prompt(self, a: Account, ctx: Context, item: int, bits: int) -> str:
        names: tuple[str, ...] = a.p["pools"]
        name = names[(item // 7) % len(names)]
        if name == "templates":
            tpls = ctx.bank.templates_harvest
            inputs = tpls[(item // 7919) % len(tpls)]
            return inputs[item % len(inputs)]
        pool = getattr(ctx.bank, name)
        wrappers: list[str] = a.p["wrappers"]
        return wrappers[(bits >> 3) % len(wrappers)].replace("{q}", pool[item % len(pool)])


class Pivot(_Harvester):
    """A campaign that moves to the newly released model within hours of its release."""

    name = "pivot"
    base_rate = 1500.0
    pool_names = ("sweep", "math_harvest", "code_harvest")

    def setup(self, a: Account, rng: Rng, ctx: Context) -> None:
        super().setup(a, rng, ctx)
        a.adopt_ms = ctx.release_ms + int(rng.uniform(0.5, 20) * 3_600_000)
        a.adopt_share = float(rng.uniform(0.8, 0.98))
        a.p["boost"] = float(rng.uniform(1.5, 4.0))
        release_day = (ctx.release_ms - ctx.start_ms) // DAY_MS
        if rng.random() < 0.4:     # fresh accounts opened for the new model
            a.start_day = int(release_day)
            created = ctx.release_ms - int(rng.uniform(1, 30) * 3_600_000)
            a.row["created_at"] = ident.rfc3339(
                ctx.start + (np.timedelta64(created - ctx.start_ms, "ms").item()))

    def expected_calls(self, a: Account, ctx: Context) -> float:
        release_day = (ctx.release_ms - ctx.start_ms) // DAY_MS
        before = max(0, release_day - a.start_day)
        after = max(0, ctx.days - max(release_day, a.start_day))
        return a.rate * (before + after * a.p["boost"])

    def count(self, a: Account, day: int, rng: Rng, ctx: Context) -> int:
        boost = a.p["boost"] if ctx.start_ms + (day + 1) * DAY_MS > a.adopt_ms else 1.0
        return int(rng.poisson(a.rate * boost))
