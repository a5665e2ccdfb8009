"""The profile registry: name → profile instance."""

from __future__ import annotations

from types import MappingProxyType

from distillwatch.sim._base import Profile
from distillwatch.sim._benign import (
    Agent,
    AppFeatures,
    CodingAssistant,
    ConsumerChat,
    Hobbyist,
    SupportBot,
)
from distillwatch.sim._hardneg import BatchJob, EvalLab, PowerUser, Reseller
from distillwatch.sim._harvest import (
    BulkSweep,
    CodeHarvest,
    LogprobHarvest,
    Mimicry,
    Pivot,
    ReasoningHarvest,
    Ring,
    SlowLow,
)

__all__ = ["HARD_NEGATIVES", "PROFILES"]

_ALL: tuple[type[Profile], ...] = (
    ConsumerChat, SupportBot, CodingAssistant, AppFeatures, Hobbyist, Agent,
    BatchJob, EvalLab, Reseller, PowerUser,
    BulkSweep, ReasoningHarvest, CodeHarvest, LogprobHarvest, SlowLow, Mimicry, Ring, Pivot,
)
PROFILES = MappingProxyType({cls.name: cls() for cls in _ALL})
HARD_NEGATIVES = frozenset({"batch_job", "eval_lab", "reseller", "power_user"})
