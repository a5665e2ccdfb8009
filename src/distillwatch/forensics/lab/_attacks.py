"""The red-team suite: what a harvester may do to our outputs or to its student.

Applied to harvested text before training: ``paraphrase`` (synonyms, dropped function words,
reordered sentences) and ``unicode`` (NFKC, format characters stripped). Applied at the
student's generation: ``neutralise`` (push down tokens the attacker guesses are green: those the
student prefers far more than a model of the attacker's other data does). Dilution is the mix
share itself; wrong keys and clean students are the nulls.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from distillwatch.forensics._tripwire import normalise_text
from distillwatch.forensics.lab._ngram import NGramModel

__all__ = ["ATTACKS", "NeutraliseHook", "paraphrase", "unicode_normalise"]

ATTACKS = ("none", "paraphrase", "unicode", "neutralise")

_SYNONYMS = {
    "has": "owns", "have": "own", "buys": "purchases", "buy": "purchase", "sells": "sold",
    "total": "sum", "each": "every", "many": "numerous", "how": "in what amount",
    "make": "earn", "makes": "earns", "needs": "requires", "need": "require",
    "gets": "receives", "get": "receive", "gives": "hands", "give": "hand",
    "so": "therefore", "then": "next", "there": "in all there", "is": "equals",
    "are": "come to", "of": "out of", "more": "additional", "left": "remaining",
    "spent": "paid", "spends": "pays", "first": "initially", "after": "following",
    "bought": "purchased", "day": "daily period", "week": "seven days", "half": "one half",
    "twice": "two times", "altogether": "in total", "money": "cash", "cost": "price",
    "costs": "is priced at", "friends": "pals", "minutes": "mins", "hours": "hrs",
    "number": "count", "times": "multiplied", "per": "for each", "can": "is able to",
}
_DROP = {"the", "a", "an", "that", "just", "also", "now"}


def paraphrase(text: str, rng: np.random.Generator, strength: float = 0.8) -> str:
    """A word-level paraphrase: swap synonyms and drop function words with probability
    ``strength``, and shuffle sentence order. Numbers and names are kept."""
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]
    out = []
    for sentence in sentences:
        words = []
        for word in sentence.split():
            core = word.lower().strip(".,;:!?")
            if core in _DROP and rng.random() < strength:
                continue
            if core in _SYNONYMS and rng.random() < strength:
                word = word.lower().replace(core, _SYNONYMS[core])
            words.append(word)
        out.append(" ".join(words))
    rng.shuffle(out)
    return " ".join(out)


def unicode_normalise(text: str) -> str:
    return normalise_text(text)


class NeutraliseHook:
    """Logit hook: subtract ``strength`` where the student's probability exceeds ``ratio``
    times the attacker's reference model (same vocabulary, trained on its other data)."""

    def __init__(self, reference: NGramModel, strength: float = 2.0, ratio: float = 2.0) -> None:
        self.reference = reference
        self.strength = strength
        self.log_ratio = float(np.log(ratio))

    def __call__(self, ids: Sequence[int], logits: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            ref = np.log(self.reference.probs(ids))
            guessed = (logits - ref) > self.log_ratio
        return logits - self.strength * guessed
