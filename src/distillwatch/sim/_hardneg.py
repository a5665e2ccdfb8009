"""Hard negatives: benign accounts whose traffic looks like harvesting at first sight."""

from __future__ import annotations

from typing import Any

import numpy as np

from distillwatch.sim import _identity as ident
from distillwatch.sim._base import (
    DAY_MS,
    FLAT,
    HOUR_MS,
    HUMAN,
    MODELS,
    NIGHT,
    Account,
    Batch,
    Context,
    Profile,
    Rng,
    lognormal_tokens,
    status_codes,
)
from distillwatch.sim._benign import _rate, _sampling
from distillwatch.sim._common import adopt, identity, pick, user_id
from distillwatch.sim._render import content, emit, model_for

__all__ = ["BatchJob", "EvalLab", "PowerUser", "Reseller"]


class BatchJob(Profile):
    """One prompt template over thousands of inputs, temperature 0, at night, at a steady rate."""

    name = "batch_job"
    weekend = 0.6
    curve = NIGHT

    def setup(self, a: Account, rng: Rng, ctx: Context) -> None:
        identity(a, rng, ctx, email="company", age=(90, 1200), tier=(3, 6), keys=(1, 2),
                 n_ips=(1, 2), v6=0.0,
                 agents=("python-requests/2.32.3", "OpenAI/Python 1.54.3", "python-httpx/0.27.2",
                         "OpenAI/Python 1.40.6"), n_agents=(1, 1))
        a.rate = _rate(rng, 3000, 0.7)
        tpl = int(rng.integers(len(ctx.bank.templates_benign)))
        short = bool(rng.random() < 0.7)
        a.p.update(template=tpl, temperature=0.0, max_tokens=pick(rng, (16, 32, 64)) if short
                   else pick(rng, (256, 512)), short=short, legacy=bool(rng.random() < 0.3),
                   seed=pick(rng, (None, 42, 1234)), start_hour=int(rng.integers(0, 3)),
                   model=pick(rng, (MODELS["mini"], MODELS["mini"], MODELS["flagship"])),
                   p429=0.01, tok_median=6 if short else 150, tok_sigma=0.5)

    def times(self, a: Account, day: int, n: int, rng: Rng, ctx: Context) -> np.ndarray:
        # a queue drained at a steady rate from the job's local start hour for ~5 hours
        start = ((a.p["start_hour"] - a.tz) % 24) * HOUR_MS + int(rng.integers(0, 600_000))
        window = int(rng.uniform(3.5, 6.0) * HOUR_MS)
        step = window / n
        ts = start + (np.arange(n) * step + rng.uniform(0, step * 0.5, n)).astype(np.int64)
        return ts % DAY_MS

    def fill(self, a: Account, day: int, ts: np.ndarray, rng: Rng, ctx: Context) -> Batch:
        b = super().fill(a, day, ts, rng, ctx)
        b.item = int(day * a.rate) + np.arange(len(ts))   # walks the input list in order
        return b

    def render(self, a: Account, b: Batch, j: int, ctx: Context) -> dict[str, Any]:
        c = b.cols
        inputs = ctx.bank.templates_benign[a.p["template"]]
        text = inputs[c["item"][j] % len(inputs)]
        bits = c["bits"][j]
        reply = (ctx.replies.short[bits % len(ctx.replies.short)] if a.p["short"]
                 else ctx.replies.prose[bits % len(ctx.replies.prose)][:600])
        req: dict[str, Any] = {"model": MODELS["legacy"] if a.p["legacy"] else a.p["model"]}
        endpoint = "/v1/chat/completions"
        if a.p["legacy"]:
            req["prompt"] = text
            endpoint = "/v1/completions"
        else:
            req["messages"] = [{"role": "user", "content": text}]
        req = _sampling(a, req)
        return emit(a, b, j, ctx, req, prompt_chars=len(text), texts=[reply], endpoint=endpoint,
                    max_tokens=a.p["max_tokens"])


_EVAL_MODELS = (MODELS["flagship"], MODELS["mini"], MODELS["reason"], MODELS["reason_mini"])


class EvalLab(Profile):
    """An evaluation lab: benchmark runs in bursts, the same items again for each model."""

    name = "eval_lab"

    def setup(self, a: Account, rng: Rng, ctx: Context) -> None:
        identity(a, rng, ctx, email="company", age=(300, 1400), tier=(4, 6), keys=(1, 3),
                 n_ips=(1, 3), agents=("python-httpx/0.27.2", "OpenAI/Python 1.54.3",
                                       "AsyncOpenAI/Python 1.51.2", "lm-eval/0.4.5"),
                 allowlisted=bool(rng.random() < 0.4))
        a.rate = _rate(rng, 2500, 0.7)
        names = sorted(ctx.bank.eval_sets)
        chosen = sorted(int(i) for i in rng.choice(len(names), min(len(names),
                                                                   int(rng.integers(2, 5))),
                                                    replace=False))
        a.p.update(sets=[names[i] for i in chosen], p_run=float(rng.uniform(0.25, 0.6)),
                   interval=float(rng.uniform(40, 400)), logprob_mc=bool(rng.random() < 0.3),
                   delay_h=float(rng.uniform(2, 36)), p429=0.004)

    def _subset(self, a: Account, n_items: int) -> int:
        return int(min(n_items, max(20, a.rate / (a.p["p_run"] * 2.0))))

    def expected_calls(self, a: Account, ctx: Context) -> float:
        sizes = [self._subset(a, len(ctx.bank.eval_sets[s].prompts)) for s in a.p["sets"]]
        return ctx.days * a.p["p_run"] * 2.0 * float(np.mean(sizes))

    def day(self, a: Account, day: int, rng: Rng, ctx: Context) -> Batch | None:
        release_day = (ctx.release_ms - ctx.start_ms) // DAY_MS
        new_ok = ctx.release_ms + a.p["delay_h"] * HOUR_MS
        day_end = ctx.start_ms + (day + 1) * DAY_MS
        runs: list[tuple[int, int]] = []
        fresh = day_end > new_ok and day <= release_day + 3 and rng.random() < 0.8
        if fresh:   # a new model is out: run the suite on it
            runs += [(s, len(_EVAL_MODELS)) for s in range(len(a.p["sets"]))]
        elif rng.random() < a.p["p_run"]:
            for _ in range(int(rng.integers(1, 4))):
                m = int(rng.integers(0, len(_EVAL_MODELS) + (day_end > new_ok)))
                runs.append((int(rng.integers(len(a.p["sets"]))), m))
        if not runs:
            return None
        ts_l, item_l, aux_l = [], [], []
        for s, m in runs:
            es = ctx.bank.eval_sets[a.p["sets"][s]]
            size = self._subset(a, len(es.prompts))
            earliest = max(0, new_ok - (day_end - DAY_MS)) if m == len(_EVAL_MODELS) else 0
            start = int(rng.integers(int(min(earliest, DAY_MS - 2 * HOUR_MS)), DAY_MS - HOUR_MS))
            step = a.p["interval"] * (4.0 if es.cot else 1.0)
            ts_l.append(start + (np.arange(size) * step + rng.exponential(step, size))
                        .astype(np.int64))
            item_l.append(np.arange(size))
            aux_l.append(np.full(size, s * 16 + m))
        ts = np.concatenate(ts_l)
        keep = ts < DAY_MS
        n = int(keep.sum())
        return Batch(day=day, ts=ts[keep], rid=self.rids(rng, n), item=np.concatenate(item_l)[keep],
                     aux=np.concatenate(aux_l)[keep], ctok=lognormal_tokens(rng, n, 300, 0.6, 2048),
                     status=status_codes(rng, n, a.p["p429"]), bits=rng.integers(0, 2**31, n))

    def render(self, a: Account, b: Batch, j: int, ctx: Context) -> dict[str, Any]:
        c = b.cols
        aux = c["aux"][j]
        es = ctx.bank.eval_sets[a.p["sets"][aux // 16]]
        m = aux % 16
        model = MODELS["new"] if m == len(_EVAL_MODELS) else _EVAL_MODELS[m]
        prompt = es.prompts[c["item"][j]]
        bits = c["bits"][j]
        if es.cot:
            reply = ctx.replies.math[bits % len(ctx.replies.math)]
        else:
            reply = ctx.replies.short[bits % 4 + 5]
            c["ctok"][j] = 1 + bits % 3 if es.max_tokens <= 8 else c["ctok"][j] % es.max_tokens
        if not es.cot and a.p["logprob_mc"] and es.max_tokens <= 8:
            c["ctok"][j] = 1
            req: dict[str, Any] = {"model": model, "prompt": prompt, "max_tokens": 1,
                                   "temperature": 0.0, "logprobs": 5}
            return emit(a, b, j, ctx, req, prompt_chars=len(prompt), texts=[reply[:1]],
                        endpoint="/v1/completions", max_tokens=1)
        req = {"model": model, "messages": [{"role": "user", "content": prompt}],
               "temperature": 0.0, "max_tokens": es.max_tokens}
        if model.startswith(("nova-r", "nova-4")):
            req.pop("max_tokens")
            req["max_completion_tokens"] = es.max_tokens * 8
        reasoning = 0.7 if model.startswith(("nova-r", "nova-4")) else 0.0
        return emit(a, b, j, ctx, req, prompt_chars=len(prompt), texts=[reply],
                    reasoning_share=reasoning, max_tokens=req.get("max_tokens") or 16384)


class Reseller(Profile):
    """A platform fronting many end users: many user ids and addresses, mixed tasks, high volume."""

    name = "reseller"
    curve = (FLAT + HUMAN) / 2

    def setup(self, a: Account, rng: Rng, ctx: Context) -> None:
        identity(a, rng, ctx, email="company", age=(200, 1100), tier=(5, 6), keys=(3, 10),
                 n_ips=(10, 40), v6=0.25,
                 agents=("LiteLLM/1.51.0", "OpenAI/Python 1.54.3", "OpenAI/NodeJS 4.67.3",
                         "Go-http-client/2.0"), n_agents=(2, 3))
        a.rate = _rate(rng, 8000, 0.6)
        adopt(a, rng, ctx, p_never=0.0, mean_days=0.5, share=(0.2, 0.5))
        a.p.update(users=int(_rate(rng, 20000, 0.7)), parts=bool(rng.random() < 0.5),
                   tok_median=300, tok_sigma=0.9, max_tokens=None)

    def render(self, a: Account, b: Batch, j: int, ctx: Context) -> dict[str, Any]:
        c = b.cols
        item, bits = c["item"][j], c["bits"][j]
        bank = ctx.bank
        kind = (bits >> 3) % 6
        if kind == 0:
            text = bank.chats[item % len(bank.chats)][0][0]
        elif kind == 1:
            text = bank.code_benign[item % len(bank.code_benign)]
        elif kind == 2:
            text = bank.support[item % len(bank.support)]
        elif kind == 3:
            text = bank.math_benign[item % len(bank.math_benign)]
        else:
            text = bank.general[item % len(bank.general)]
        reply = ctx.replies.prose[(bits >> 6) % len(ctx.replies.prose)]
        models = (MODELS["flagship"], MODELS["mini"], MODELS["mini"], MODELS["reason"])
        model = model_for(a, ctx, b.day, c["ts"][j], bits, models[(bits >> 9) % 4])
        req: dict[str, Any] = {"model": model, "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": content(a, text)}]}
        temp = (None, 0.7, 1.0, 0.2)[(bits >> 11) % 4]
        if temp is not None:
            req["temperature"] = temp
        mt = (None, 1024, 4096, 512)[(bits >> 13) % 4]
        if mt is not None:
            req["max_tokens"] = mt
        req["stream"] = bool((bits >> 15) & 1)
        reasoning = 0.6 if model.startswith(("nova-r", "nova-4")) else 0.0
        return emit(a, b, j, ctx, req, prompt_chars=len(text) + 28, texts=[reply],
                    user=user_id(a, item % a.p["users"]), reasoning_share=reasoning,
                    max_tokens=mt or 16384)


class PowerUser(Profile):
    """One heavy, honest user: long sessions over varied topics, sometimes reasoning models."""

    name = "power_user"
    weekend = 0.8

    def setup(self, a: Account, rng: Rng, ctx: Context) -> None:
        identity(a, rng, ctx, email=pick(rng, ("consumer", "company")), age=(60, 900),
                 tier=(2, 4), keys=(1, 2), family=ident.RESIDENTIAL, n_ips=(1, 3), v6=0.3,
                 agents=("OpenAI/Python 1.54.3", "python-requests/2.32.3", "my-cli/0.3.1",
                         ident.BROWSERISH[1]), n_agents=(1, 2))
        a.rate = _rate(rng, 250, 0.6)
        adopt(a, rng, ctx, p_never=0.1, mean_days=1, share=(0.4, 0.9))
        a.p.update(reason_share=float(rng.uniform(0.1, 0.5)), parts=bool(rng.random() < 0.2),
                   tok_median=700, tok_sigma=0.8, max_tokens=None, history=int(rng.integers(2, 7)))

    def times(self, a: Account, day: int, n: int, rng: Rng, ctx: Context) -> np.ndarray:
        # long sittings: a few sessions, calls every 30 s - 5 min within each
        k = max(1, n // 25 + 1)
        starts = rng.choice(24, k, p=a.hours(HUMAN)) * HOUR_MS
        sess = rng.integers(0, k, n)
        order = np.sort(sess)
        within = np.cumsum(rng.uniform(30_000, 300_000, n))
        first = np.searchsorted(order, order)
        ts = starts[order] + (within - within[first]).astype(np.int64)
        return ts.clip(0, DAY_MS - 1)

    def render(self, a: Account, b: Batch, j: int, ctx: Context) -> dict[str, Any]:
        c = b.cols
        bits = c["bits"][j]
        bank = ctx.bank
        pools = (bank.general, bank.code_benign, bank.math_benign, bank.general)
        hist = min(j, a.p["history"] if (bits & 3) else 0)
        msgs: list[dict[str, Any]] = []
        chars = 0
        for k in range(j - hist, j + 1):
            item = c["item"][k]
            pool = pools[(c["item"][j] >> 2) % 4]
            text = pool[item % len(pool)]
            msgs.append({"role": "user", "content": content(a, text)})
            chars += len(text)
            if k < j:
                reply = ctx.replies.prose[item % len(ctx.replies.prose)]
                msgs.append({"role": "assistant", "content": reply})
                chars += len(reply)
        reasoning = (bits >> 8) % 100 < a.p["reason_share"] * 100
        model = model_for(a, ctx, b.day, c["ts"][j], bits,
                          MODELS["reason"] if reasoning else MODELS["flagship"])
        req: dict[str, Any] = {"model": model, "messages": msgs}
        if reasoning:
            req["max_completion_tokens"] = 16000
            req["reasoning_effort"] = ("medium", "high")[(bits >> 15) & 1]
            c["ctok"][j] *= 4
        else:
            req["temperature"] = 0.7
        texts = [ctx.replies.prose[(bits >> 4) % len(ctx.replies.prose)]]
        rshare = 0.7 if model.startswith(("nova-r", "nova-4")) else 0.0
        return emit(a, b, j, ctx, req, prompt_chars=chars, texts=texts, reasoning_share=rshare,
                    max_tokens=req.get("max_completion_tokens", 16384))
