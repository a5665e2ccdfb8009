"""Response texts and response bodies.

Generated replies come from phrase templates built once per process with a fixed seed. Texts
are capped at :data:`MAX_CHARS` characters so files stay manageable; ``usage`` still carries
the full token counts the profile drew, as a real log of a long answer would.
"""

from __future__ import annotations

import random
from functools import lru_cache
from typing import Any

from distillwatch.sim import _words as W

__all__ = ["MAX_CHARS", "ResponsePools", "chat_body", "logprobs_block", "pools"]

MAX_CHARS = 1500

_OPEN = (
    "Great question! Here's an overview of {topic}.", "Sure — here is a clear explanation.",
    "Here's a structured answer.", "Let me break this down.", "Absolutely. Let's walk through it.",
    "Happy to help with that.", "Good idea. Here's how I would approach it.",
)
_POINTS = (
    "**{Topic} basics.** At its core, {topic} is about how a few simple parts interact to produce "
    "complex results, which is why it shows up in so many contexts.",
    "**Why it matters.** Understanding {topic} helps explain everyday decisions, from budgeting "
    "to how we read the news.",
    "**A common misconception.** Many people assume {topic} is recent, but its roots go back a "
    "long way and the ideas were refined over decades.",
    "**An example.** Imagine {name} planning a trip to {city}: the same trade-offs appear, just "
    "on a smaller scale.",
    "**Key trade-offs.** There is rarely a single right answer; it depends on cost, time and how "
    "much risk you are willing to take.",
    "**Practical tips.** Start small, measure what changes, and adjust. Writing down your "
    "assumptions makes it easier to see what went wrong.",
    "**Further reading.** Introductory textbooks and reputable online courses cover {topic} "
    "well; look for ones with worked examples.",
)
_CLOSE = ("Let me know if you'd like more detail on any of these points.",
          "I hope this helps! Want me to go deeper on one part?",
          "In short: it depends on your goals, but the points above are a good starting place.")
_SUPPORT = (
    "I'm sorry for the trouble. Here's what you can do: open the app, go to **Settings → "
    "Account**, and choose the relevant option. If it still doesn't work after 24 hours, reply "
    "here and I'll escalate it to our team.",
    "Thanks for reaching out. Transfers usually arrive within 1–3 business days. If yours is "
    "taking longer, please check that the recipient details are correct.",
    "I understand how frustrating this is. For your security I can't see full card details, but "
    "I can help you freeze the card right away and order a replacement.",
    "Good news — you can change that yourself in a few steps. Go to Profile, tap Edit, update "
    "the field and confirm with the code we send you.",
)
_CODE = (
    "Here's a {lang} implementation:\n\n```\ndef solve(items, k):\n    counts = {{}}\n    for item "
    "in items:\n        counts[item] = counts.get(item, 0) + 1\n    ranked = sorted(counts.items(),"
    " key=lambda kv: (-kv[1], kv[0]))\n    return [key for key, _ in ranked[:k]]\n```\n\n"
    "**How it works:** it counts each item in one pass, then sorts by frequency. Time complexity "
    "is O(n log n).\n\nTests:\n\n```\nassert solve(['a', 'b', 'a'], 1) == ['a']\n```",
    "The error happens because the value can be `None` when the key is missing. Guard it:\n\n"
    "```\nvalue = data.get('items')\nif not value:\n    return None\nreturn value[0]\n```\n\n"
    "This also avoids an `IndexError` on an empty list.",
    "Sure! In {lang} you can do this with a small helper:\n\n```\nfunction retry(fn, attempts = 5)"
    " {{\n  return fn().catch(err => attempts > 1\n    ? sleep(2 ** (5 - attempts) * 100).then(() "
    "=> retry(fn, attempts - 1))\n    : Promise.reject(err));\n}}\n```\n\nEach failure waits "
    "twice as long as the previous one.",
)
_MATH = (
    "Let's solve this step by step.\n\n1. First, find the total: {a} × {b} = {ab}.\n2. Then "
    "subtract what was used: {ab} − {c} = {abc}.\n3. Check: {abc} + {c} = {ab}. ✓\n\n"
    "**Answer: {abc}**",
    "We set up an equation. Let x be the unknown. Then {a}x + {b} = {ab}, so {a}x = {ab} − {b}, "
    "and x = {x}.\n\nThe answer is {x}.",
    "Step 1: Rate = distance ÷ time = {ab} ÷ {b} = {a}.\nStep 2: Multiply by the new time: "
    "{a} × {c} = {ac}.\n\nSo the answer is {ac}.",
)
_REASON = (
    "Okay, so the problem asks for {a} times {b} and then something about the remainder. Let me "
    "restate it. We have {a} groups of {b}, that's {ab}. Hmm, wait — the question says 'left', "
    "so I need to subtract {c}. {ab} minus {c} is {abc}. Let me double-check by adding back: "
    "{abc} plus {c} gives {ab}. Yes. Is there any trick? The units are consistent. Could the "
    "percentage apply before the subtraction? Re-reading: no, it applies after. So {abc}. "
    "Actually let me verify once more with a different approach: ",
    "Let me think about the structure first. The function must handle empty input, duplicates "
    "and very large lists. A naive approach is O(n^2); can we do better? Sorting gives O(n log n)."
    " A hash map gives O(n) average. Edge cases: negative numbers, None values. Let me write the "
    "hash map version, then trace it on [3, 1, 3]: counts = {{3: 2, 1: 1}} … that looks right. ",
)
_SHORT = ("Positive", "Negative", "Mixed", "Yes", "No", "B", "A", "C", "D", "Sports", "Business",
          "World", "Sci/Tech", "Electronics", "Home", "card_arrival", "refund_request", "3", "1")


class ResponsePools:
    """Pre-built reply texts by kind (``prose``, ``support``, ``code``, ``math``, ``reason``,
    ``short``); profiles index them with cheap per-call random bits."""

    def __init__(self, seed: int = 7) -> None:
        r = random.Random(seed)

        def nums() -> dict[str, int]:
            a, b, c = r.randint(2, 40), r.randint(2, 12), r.randint(1, 30)
            return {"a": a, "b": b, "c": c, "ab": a * b, "abc": a * b - c, "ac": a * c,
                    "x": (a * b - b) // a}

        def prose() -> str:
            topic = r.choice(W.TOPICS)
            vals = {"topic": topic, "Topic": topic[:1].upper() + topic[1:],
                    "name": r.choice(W.NAMES), "city": r.choice(W.CITIES)}
            points = r.sample(_POINTS, r.randint(2, 6))
            body = "\n\n".join(f"{i + 1}. {p}" for i, p in enumerate(points))
            return f"{r.choice(_OPEN)}\n\n{body}\n\n{r.choice(_CLOSE)}".format(**vals)

        self.prose = [prose()[:MAX_CHARS] for _ in range(400)]
        self.support = [r.choice(_SUPPORT) + (" " + r.choice(_CLOSE) if r.random() < 0.5 else "")
                        for _ in range(40)]
        self.code = [r.choice(_CODE).format(lang=r.choice(W.LANGS))[:MAX_CHARS]
                     for _ in range(60)]
        self.math = [r.choice(_MATH).format(**nums()) for _ in range(300)]
        reason = []
        for _ in range(300):
            chunk = r.choice(_REASON).format(**nums())
            reason.append((chunk * 4)[:MAX_CHARS])
        self.reason = reason
        self.short = list(_SHORT)

    def get(self, kind: str) -> list[str]:
        pool: list[str] = getattr(self, kind)
        return pool


@lru_cache(maxsize=1)
def pools() -> ResponsePools:
    """The per-process response pools."""
    return ResponsePools()


_VOCAB = ("The", " answer", " is", " a", ",", " the", " of", " and", " to", " in", ".", " it",
          " that", " Yes", " No", " A", " B", " C", " D", " 1", " 2", " x", " =", " we", " can",
          " This", " not", " be", " for", " on", " with", " as", " by", "\n", " at", " or")


@lru_cache(maxsize=64)
def _tops(k: int, variant: int) -> tuple[dict[str, Any], ...]:
    r = random.Random(k * 1000 + variant)
    toks = r.sample(_VOCAB, min(k, len(_VOCAB)))
    lps = sorted((round(-r.expovariate(0.6), 4) for _ in toks), reverse=True)
    return tuple({"token": t, "logprob": lp} for t, lp in zip(toks, lps, strict=True))


def logprobs_block(n_tokens: int, top_k: int, bits: int) -> dict[str, Any]:
    """A ``choices[].logprobs`` object of ``n_tokens`` entries with ``top_k`` alternatives each."""
    content = []
    for i in range(n_tokens):
        tops = list(_tops(top_k, (bits + i) % 16)) if top_k else []
        head = tops[0] if tops else {"token": _VOCAB[(bits + i) % len(_VOCAB)], "logprob": -0.01}
        content.append({"token": head["token"], "logprob": head["logprob"],
                        "top_logprobs": tops})
    return {"content": content}


def chat_body(
    rid: str, model: str, created: int, texts: list[str], finish: str,
    prompt_tokens: int, completion_tokens: int, *, reasoning_tokens: int = 0,
    reasoning_text: str | None = None, logprobs: dict[str, Any] | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """An OpenAI-style chat completion body with one choice per text."""
    choices = []
    for i, text in enumerate(texts):
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if reasoning_text is not None:
            message["reasoning_content"] = reasoning_text
        if tool_calls is not None:
            message["content"] = None
            message["tool_calls"] = tool_calls
        choice: dict[str, Any] = {"index": i, "message": message, "finish_reason": finish,
                                  "logprobs": logprobs}
        choices.append(choice)
    usage: dict[str, Any] = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                             "total_tokens": prompt_tokens + completion_tokens}
    if reasoning_tokens:
        usage["completion_tokens_details"] = {"reasoning_tokens": reasoning_tokens}
    return {"id": "chatcmpl-" + rid[4:], "object": "chat.completion", "created": created,
            "model": model, "choices": choices, "usage": usage}
