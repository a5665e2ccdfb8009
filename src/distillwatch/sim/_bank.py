"""The text bank every profile draws from, and the stable role split shared by all sources.

A :class:`TextBank` holds pools of prompts (and, where a source has them, real responses) already
divided by *role*: the benign half and the harvesting half of the same kind of text. Both the
built-in generator (:mod:`._text`) and the corpus loader (:mod:`._corpora`) produce one, so every
profile works with either source.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

__all__ = ["Conv", "EvalSet", "TextBank", "role_of", "split_by_role"]

T = TypeVar("T")

#: One chat session: (user turn, assistant turn or None when the source has no reply) pairs.
Conv = tuple[tuple[str, str | None], ...]


def role_of(key: str, salt: str = "") -> int:
    """0 (benign side) or 1 (harvesting side), from a stable hash of an item's id or text."""
    digest = hashlib.blake2b((salt + key).encode("utf-8"), digest_size=8).digest()
    return digest[0] & 1


def split_by_role(
    items: Iterable[T], key: Callable[[T], str], salt: str = ""
) -> tuple[list[T], list[T]]:
    """Split items into (benign, harvest) halves by :func:`role_of` of ``key(item)``."""
    benign: list[T] = []
    harvest: list[T] = []
    for item in items:
        (harvest if role_of(key(item), salt) else benign).append(item)
    return benign, harvest


@dataclass(frozen=True)
class EvalSet:
    """A benchmark as an evaluation customer runs it: fixed prompts in a fixed order."""

    name: str
    prompts: tuple[str, ...]
    max_tokens: int
    cot: bool = False


@dataclass
class TextBank:
    """Prompt pools by role. ``*_benign`` / ``*_harvest`` are halves of the same kind of text."""

    source: str
    chats: list[Conv]                      # benign multi-turn sessions (consumer chat)
    general: list[str]                     # benign one-off prompts (hobbyists, power users)
    sweep: list[str]                       # instruction sweep pool (harvesters)
    support: list[str]                     # support-bot customer queries
    code_benign: list[str]
    code_harvest: list[str]
    math_benign: list[str]
    math_harvest: list[str]
    app_tasks: list[str]                   # short instructions an app uses as its system prompt
    passages: list[str]                    # inputs app features rewrite, summarise, extract
    agent_tasks: list[str]
    templates_benign: list[tuple[str, ...]]   # one template filled with many inputs, per entry
    templates_harvest: list[tuple[str, ...]]
    eval_sets: dict[str, EvalSet] = field(default_factory=dict)
    #: real assistant replies by prompt text where the source has them (ShareGPT, alpaca)
    answers: dict[str, str] = field(default_factory=dict)

    def check(self) -> None:
        """Raise ValueError when a pool every scenario needs is empty."""
        for name in ("chats", "general", "sweep", "support", "code_benign", "code_harvest",
                     "math_benign", "math_harvest", "app_tasks", "passages", "agent_tasks",
                     "templates_benign", "templates_harvest"):
            if not getattr(self, name):
                raise ValueError(f"text pool {name!r} is empty")
        if not self.eval_sets:
            raise ValueError("no evaluation sets")
