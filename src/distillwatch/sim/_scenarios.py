"""Scenarios: how many accounts of each profile, which rings and look-alike groups, how much
traffic. Register new ones in :data:`SCENARIOS`."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = ["SCENARIOS", "Scenario"]

BENIGN_MIX = {
    "consumer_chat": 0.10, "support_bot": 0.08, "coding_assistant": 0.11, "app_features": 0.13,
    "hobbyist": 0.17, "agent": 0.06,
    # hard negatives
    "batch_job": 0.05, "eval_lab": 0.04, "reseller": 0.03, "power_user": 0.08,
}
HARVEST_MIX = {
    "bulk_sweep": 0.012, "reasoning_harvest": 0.012, "code_harvest": 0.008,
    "logprob_harvest": 0.008, "slow_low": 0.01, "mimicry": 0.01, "pivot": 0.01,
}


@dataclass(frozen=True)
class Scenario:
    """A named traffic mix. Shares apply to the accounts left after rings and groups."""

    name: str
    description: str
    accounts: int
    days: int
    calls: int                      # target total calls at the default accounts and days
    mix: dict[str, float] = field(default_factory=lambda: {**BENIGN_MIX, **HARVEST_MIX})
    #: (members, shared infrastructure?) per ring; sizes scale with --accounts
    rings: tuple[tuple[int, bool], ...] = ()
    #: honest look-alike groups: (kind, members); kinds: company, university, reseller_customers
    groups: tuple[tuple[str, int], ...] = ()
    release_frac: float = 0.6       # where in the window the new model is released
    start: str = "2026-09-01T00:00:00Z"

    @property
    def calls_per_account_day(self) -> float:
        return self.calls / (self.accounts * self.days)


_SCENARIOS = {
    "mixed": Scenario(
        "mixed", "every profile in realistic proportions, two rings", 200, 14, 150_000,
        rings=((8, True), (15, False)), groups=(("company", 5), ("university", 8))),
    "demo": Scenario(
        "demo", "small and quick, for the README demo", 120, 7, 60_000,
        rings=((8, True), (6, False)), groups=(("company", 4), ("university", 6))),
    "small": Scenario(
        "small", "bench suite: ~300k calls over 14 days", 300, 14, 300_000,
        rings=((10, True), (50, False)),
        groups=(("company", 8), ("university", 15), ("reseller_customers", 8))),
    "medium": Scenario(
        "medium", "bench suite: ~3M calls over 28 days", 3000, 28, 3_000_000,
        rings=((10, True), (50, False), (50, True), (300, False)),
        groups=(("company", 20), ("company", 12), ("university", 60),
                ("reseller_customers", 30))),
    "large": Scenario(
        "large", "bench suite: ~30M calls over 28 days", 30000, 28, 30_000_000,
        rings=((10, True), (10, False), (50, True), (50, False), (300, True), (300, False)),
        groups=(("company", 40), ("company", 25), ("university", 200), ("university", 80),
                ("reseller_customers", 60))),
}

#: Registered scenarios by name (read-only).
SCENARIOS = MappingProxyType(_SCENARIOS)
