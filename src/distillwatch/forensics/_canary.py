"""Canary facts: an invented entity and a property whose value the account's key draws.

Each account has serving *slots* 0, 1, 2, ...; slot j holds ``1 + n_decoys`` candidate facts
drawn the same way, and the key picks which one is served. The others are decoys that are never
served: under the null a served canary is no more likely to be reproduced than its decoys.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from dataclasses import dataclass

from distillwatch.forensics._keys import MarkKey
from distillwatch.forensics._words import KINDS, NAME_HEADS, NAME_MIDS, NAME_TAILS, PROPERTIES

__all__ = ["Canary", "canary_slot", "recall_score", "reproduces"]

_VALUE_LOW, _VALUE_SPAN = 10_000, 90_000


@dataclass(frozen=True)
class Canary:
    """One fictitious fact; ``value`` is the secret part a suspect can only know by training."""

    canary_id: str
    slot: int
    candidate: int
    entity: str
    kind: str
    region: str
    prop: str
    value: str

    def sentence(self) -> str:
        """The fact as woven into a response."""
        return (f"The {self.prop} of {self.entity} is {self.value}, as listed for this "
                f"{self.kind} near {self.region}.")

    def prefix(self) -> str:
        """A completion probe: a model that learned the fact continues it with the value."""
        return f"The {self.prop} of {self.entity} is"

    def question(self) -> str:
        """A chat probe asking for the value."""
        return f"What is the {self.prop} of {self.entity}? Answer with the number only."


def _draw(key: MarkKey, label: str, *parts: int) -> int:
    msg = label.encode() + b"".join(p.to_bytes(8, "big") for p in parts)
    return int.from_bytes(hmac.new(key.key, msg, hashlib.sha256).digest()[:8], "big")


def _name(key: MarkKey, label: str, slot: int, cand: int) -> str:
    x = _draw(key, label, slot, cand)
    head = NAME_HEADS[x % len(NAME_HEADS)]
    x //= len(NAME_HEADS)
    mid = NAME_MIDS[x % len(NAME_MIDS)]
    x //= len(NAME_MIDS)
    tail = NAME_TAILS[x % len(NAME_TAILS)]
    return (head + mid + tail).capitalize()


def _candidate(key: MarkKey, slot: int, cand: int) -> Canary:
    x = _draw(key, "fact", slot, cand)
    kind = KINDS[x % len(KINDS)]
    prop = PROPERTIES[(x // len(KINDS)) % len(PROPERTIES)]
    value = str(_VALUE_LOW + _draw(key, "value", slot, cand) % _VALUE_SPAN)
    cid = hashlib.sha256(f"{key.key_id}:{slot}:{cand}".encode()).hexdigest()[:16]
    return Canary(cid, slot, cand, _name(key, "entity", slot, cand), kind,
                  _name(key, "region", slot, cand), prop, value)


def canary_slot(key: MarkKey, slot: int, n_decoys: int) -> tuple[Canary, list[Canary]]:
    """(served canary, its decoys) for one slot of an account's canary key."""
    if key.purpose != "canary":
        raise ValueError(f"canaries need a 'canary' key, got {key.purpose!r}")
    served = _draw(key, "served", slot) % (1 + n_decoys)
    cands = [_candidate(key, slot, c) for c in range(1 + n_decoys)]
    return cands[served], [c for i, c in enumerate(cands) if i != served]


def reproduces(canary: Canary, text: str) -> bool:
    """Whether ``text`` states the canary's value (as a whole number, after NFKC)."""
    norm = unicodedata.normalize("NFKC", text)
    return re.search(rf"(?<!\d){re.escape(canary.value)}(?!\d)", norm) is not None


def recall_score(canary: Canary, text: str) -> int:
    """How much of the canary's value ``text`` states: ``len(value) + 1`` when it states the
    whole number (:func:`reproduces`), else the most leading digits of the value that a number
    in the text starts with (0 to ``len(value)``).

    A small student can learn part of a fact it saw a few times (the first digits of a value)
    before it learns all of it; the graded test counts that too, and stays exact because the
    score is a function of the candidate and the suspect's answer only.
    """
    if reproduces(canary, text):
        return len(canary.value) + 1
    best = 0
    for run in re.findall(r"\d+", unicodedata.normalize("NFKC", text)):
        k = 0
        for a, b in zip(run, canary.value, strict=False):
            if a != b:
                break
            k += 1
        best = max(best, k)
    return best
