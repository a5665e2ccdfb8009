"""The built-in prompt generator: templates and word lists filled with a fixed-seed RNG.

Used when no ``--corpora`` folder is given. It produces a :class:`TextBank` of the same shape
as the corpus loader, split by role the same way, so every profile runs on it. The pools are
a constant of the package (their seed is fixed), independent of the simulation seed.
"""

from __future__ import annotations

import random
from functools import lru_cache

from distillwatch.sim import _words as W
from distillwatch.sim._bank import Conv, EvalSet, TextBank, split_by_role

__all__ = ["builtin_bank"]


class _Slots(dict[str, str]):
    """Slot values drawn on first use, so a fill only pays for the slots its pattern names."""

    def __init__(self, filler: _Filler, extra: dict[str, str]) -> None:
        super().__init__(extra)
        self.filler = filler

    def __missing__(self, key: str) -> str:
        value = self.filler._slot(key)
        if key.endswith("2") and value == self.get(key[:-1]):
            value = self.filler._slot(key)
        self[key] = value
        return value


class _Filler:
    """Fills ``{slot}`` templates from the word lists."""

    def __init__(self, rng: random.Random) -> None:
        self.r = rng

    def _slot(self, key: str) -> str:
        r = self.r
        pools: dict[str, tuple[str, ...]] = {
            "topic": W.TOPICS, "topic2": W.TOPICS, "audience": W.AUDIENCES, "city": W.CITIES,
            "city2": W.CITIES, "hobby": W.HOBBIES, "tool": W.TOOLS, "task": W.TASKS,
            "food": W.FOODS, "genre": W.GENRES, "thing": W.THINGS, "merchant": W.MERCHANTS,
            "name": W.NAMES, "name2": W.NAMES, "name3": W.NAMES, "day": W.DAYS, "day2": W.DAYS,
            "thing2": W.PROJECTS, "product": W.PRODUCTS, "opinion": W.OPINIONS, "adj": W.ADJS,
            "verdict": W.VERDICTS, "company": W.COMPANIES, "lang": W.LANGS,
            "error": W.CODE_ERRORS, "snippet": W.CODE_SNIPPETS, "sentence": W.SENTENCES,
        }
        if key in pools:
            return r.choice(pools[key])
        if key == "n":
            return str(r.randint(3, 9))
        if key == "n2":
            return str(r.randint(10, 99))
        if key == "num":
            return str(r.randint(100000, 999999))
        if key == "sentence_blank":
            words = r.choice(W.SENTENCES).split()
            k = r.randrange(1, len(words) - 1)
            return " ".join([*words[:k], "____", *words[k + 1:]])
        raise KeyError(key)

    def fill(self, pattern: str, extra: dict[str, str] | None = None) -> str:
        values = _Slots(self, extra or {})
        return pattern.format_map(values)

    def many(self, patterns: tuple[str, ...], n: int) -> list[str]:
        """n distinct fills (duplicates are dropped, so the pool may come out a little short)."""
        seen: dict[str, None] = {}
        for _ in range(n * 2):
            seen[self.fill(self.r.choice(patterns))] = None
            if len(seen) >= n:
                break
        return list(seen)


def _code_prompt(f: _Filler) -> str:
    pattern = f.r.choice(W.CODE_PATTERNS)
    return f.fill(pattern, {"task": f.r.choice(W.CODE_TASKS)})


def _math_prompt(f: _Filler) -> str:
    r = f.r
    item, price = r.choice(W.ITEMS)
    a, b, c = r.randint(2, 40), r.randint(2, 12), r.randint(2, 20)
    s = r.randint(3, 15)
    u = r.randint(1, s - 1)
    return r.choice(W.MATH_PATTERNS).format(
        name=r.choice(W.NAMES), a=a, b=b, c=c, item=item, p=price,
        bill=[5, 10, 20, 50, 100][r.randrange(5)], big=r.randint(45, 960),
        pct=r.choice([10, 15, 20, 25, 30, 40, 60, 75]), p2=2 * (a + b + 3), s=s, prod=u * (s - u),
    )


def _mcq(r: random.Random, with_answer: bool) -> str:
    subject, concept, definition = r.choice(W.MCQ_FACTS)
    others = [f[2] for f in W.MCQ_FACTS if f[2] != definition]
    options = [*r.sample(others, 3), definition]
    r.shuffle(options)
    letters = "ABCD"
    lines = [f"Which of the following best describes {concept}? ({subject})"]
    lines += [f"{letters[i]}. It {opt}" for i, opt in enumerate(options)]
    lines.append("Answer:" + (f" {letters[options.index(definition)]}" if with_answer else ""))
    return "\n".join(lines)


def _mcq_set(r: random.Random, n: int) -> tuple[str, ...]:
    head = "The following are multiple choice questions (with answers).\n\n"
    shots = "\n\n".join(_mcq(r, True) for _ in range(5))
    return tuple(f"{head}{shots}\n\n{_mcq(r, False)}" for _ in range(n))


def _nav_item(r: random.Random) -> str:
    steps = []
    for _ in range(r.randint(3, 7)):
        steps.append(r.choice(["Take {k} steps forward.", "Take {k} steps backward.",
                               "Turn left.", "Turn right.", "Turn around.",
                               "Take {k} steps left."]).format(k=r.randint(1, 9)))
    return ("If you follow these instructions, do you return to the starting point? "
            + " ".join(steps) + "\nOptions:\n- Yes\n- No")


def _cot_set(r: random.Random, n: int) -> tuple[str, ...]:
    head = ("Given a series of navigation instructions, determine whether one would end up back "
            "at the starting point.\n\n")
    shot = (f"Q: {_nav_item(r)}\nA: Let's think step by step.\nWe start at the origin facing "
            "forward. We track each move and compare the final position to the origin. "
            "So the answer is No.")
    return tuple(f"{head}{shot}\n\nQ: {_nav_item(r)}\nA: Let's think step by step."
                 for _ in range(n))


def _truth_set(r: random.Random, n: int) -> tuple[str, ...]:
    out: dict[str, None] = {}
    for _ in range(n * 4):
        q, _a = r.choice(W.MYTHS)
        out[r.choice(W.TRUTH_FRAMES).format(q=q)] = None
        if len(out) >= n:
            break
    return tuple(out)


def _chat(f: _Filler, opener: str) -> Conv:
    turns = [(opener, None)]
    for _ in range(f.r.choice([0, 0, 1, 1, 2, 3, 5])):
        turns.append((f.r.choice(W.FOLLOW_UPS), None))
    return tuple(turns)


def _template_inputs(f: _Filler, template: str, n: int) -> tuple[str, ...]:
    r = f.r
    out: dict[str, None] = {}
    for _ in range(n * 2):
        extra = {}
        if "{review}" in template:
            extra["review"] = f.fill(W.PASSAGE_PATTERNS[2])
        if "{headline}" in template:
            extra["headline"] = f.fill(r.choice(W.HEADLINE_PATTERNS))
        if "{passage}" in template:
            extra["passage"] = f.fill(r.choice(W.PASSAGE_PATTERNS))
        if "{product_title}" in template:
            extra["product_title"] = (f"{r.choice(W.ADJS).title()} {r.choice(W.PRODUCTS)} "
                                      f"{r.randint(2, 9)}00 series, "
                                      f"{r.choice(['black', 'white', 'blue'])}")
        if "{query}" in template:
            extra["query"] = f.fill(r.choice(W.SUPPORT_TEMPLATES))
        out[f.fill(template, extra)] = None
        if len(out) >= n:
            break
    return tuple(out)


@lru_cache(maxsize=1)
def builtin_bank() -> TextBank:
    """The built-in :class:`TextBank` (built once per process, about a second)."""
    f = _Filler(random.Random(20260901))
    instructions = f.many(W.SWEEP_PATTERNS, 9000)
    general, sweep = split_by_role(instructions, str, "builtin")
    openers = f.many(W.CHAT_OPENERS, 3000)
    chat_side, chat_harvest = split_by_role(openers, str, "builtin")
    chats = [_chat(f, o) for o in chat_side]
    sweep += chat_harvest
    general += chat_side[: len(chat_side) // 3]
    code = list(dict.fromkeys(_code_prompt(f) for _ in range(5000)))
    code_benign, code_harvest = split_by_role(code, str, "builtin")
    maths = list(dict.fromkeys(_math_prompt(f) for _ in range(7000)))
    math_benign, math_harvest = split_by_role(maths, str, "builtin")
    support = f.many(W.SUPPORT_TEMPLATES, 1500)
    passages = f.many(W.PASSAGE_PATTERNS, 1200)
    agent = f.many(W.AGENT_TASKS, 600)
    templates = [_template_inputs(f, t, 1200) for t in W.BATCH_TEMPLATES]
    templates = [t for t in templates if len(t) >= 300]
    t_benign, t_harvest = split_by_role(templates, lambda t: t[0][:40], "builtin-tpl")
    if not t_harvest:
        t_harvest = [t_benign.pop()]
    r = f.r
    test_maths = list(dict.fromkeys(_math_prompt(f) for _ in range(900)))
    test_maths = [m for m in test_maths if m not in set(maths)]
    eval_sets = {
        "mcq_5shot": EvalSet("mcq_5shot", _mcq_set(r, 1500), 2),
        "nav_cot": EvalSet("nav_cot", _cot_set(r, 400), 512, cot=True),
        "math_word_test": EvalSet("math_word_test", tuple(test_maths[:600]), 512, cot=True),
        "truthful": EvalSet("truthful", _truth_set(r, 80), 128),
        "algebra_test": EvalSet("algebra_test", tuple(test_maths[600:]), 1024, cot=True),
    }
    bank = TextBank(
        source="builtin", chats=chats, general=general, sweep=sweep, support=support,
        code_benign=code_benign, code_harvest=code_harvest, math_benign=math_benign,
        math_harvest=math_harvest, app_tasks=list(W.APP_TASKS), passages=passages,
        agent_tasks=agent, templates_benign=t_benign, templates_harvest=t_harvest,
        eval_sets=eval_sets,
    )
    bank.check()
    return bank
