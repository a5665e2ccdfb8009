"""Core types of the simulator: accounts, per-day call batches, the profile base class.

A profile generates one account-day at a time as a :class:`Batch` of numpy columns (arrival
offsets, request ids, item indices, token counts, status codes, random bits), which is cheap and
vectorised; the writer merges all batches of a day in time order and asks each profile to
:meth:`Profile.render` one record at a time, so a day never holds millions of record dicts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from distillwatch.sim._bank import TextBank
from distillwatch.sim._responses import ResponsePools

__all__ = [
    "DAY_MS", "FLAT", "HUMAN", "MODELS", "NIGHT", "OFFICE", "Account", "Batch", "Context",
    "Profile", "Rng",
]

Rng = np.random.Generator
DAY_MS = 86_400_000
HOUR_MS = 3_600_000

#: Model names of the simulated provider. ``new`` is released inside the window.
MODELS = {
    "flagship": "nova-3", "mini": "nova-3-mini", "reason": "nova-r2", "reason_mini": "nova-r2-mini",
    "legacy": "nova-2.5-instruct", "new": "nova-4",
}

# Relative load by LOCAL hour of day.
HUMAN = np.array([1.0, 0.6, 0.4, 0.3, 0.3, 0.4, 0.8, 1.5, 2.5, 3.2, 3.5, 3.4, 3.0, 3.3, 3.4,
                  3.3, 3.0, 2.8, 2.6, 2.8, 3.0, 2.8, 2.2, 1.5])
OFFICE = np.array([0.1, 0.05, 0.05, 0.05, 0.05, 0.1, 0.3, 1.0, 3.0, 4.5, 5.0, 4.8, 3.5, 4.5,
                   4.8, 4.6, 4.0, 2.5, 1.2, 0.7, 0.5, 0.4, 0.3, 0.2])
NIGHT = np.array([5.0, 6.0, 6.0, 6.0, 5.5, 4.0, 1.0, 0.2, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1,
                  0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.2, 1.0, 3.0])
FLAT = np.ones(24)


@dataclass
class Context:
    """What every profile may read: text pools, the window, the model release."""

    bank: TextBank
    replies: ResponsePools
    start: datetime
    start_ms: int
    days: int
    release_ms: int
    seed: int

    @property
    def created_s(self) -> int:
        return self.start_ms // 1000


@dataclass
class Account:
    """One simulated account: its accounts.jsonl row, infrastructure and behaviour parameters."""

    idx: int
    account_id: str
    profile: Profile
    label: str
    campaign: str | None
    row: dict[str, Any]
    keys: list[str] = field(default_factory=list)
    ips: list[str] = field(default_factory=list)
    agents: list[str] = field(default_factory=list)
    tz: int = 0
    rate: float = 10.0                 # mean calls per active day (scaled by the scenario)
    start_day: int = 0                 # first active day
    end_day: int = 10**6               # first inactive day
    stealth: float = 0.0
    adopt_ms: int = 2**62              # when it starts using the newly released model
    adopt_share: float = 0.0
    group: dict[str, Any] | None = None
    p: dict[str, Any] = field(default_factory=dict)  # profile parameters

    def hours(self, local: np.ndarray) -> np.ndarray:
        """Hour-of-day weights in UTC for a local-time curve, normalised."""
        w = np.roll(local, self.tz)
        return w / w.sum()


@dataclass
class Batch:
    """One account-day of calls as columns (lists after :meth:`freeze`)."""

    day: int
    ts: np.ndarray        # ms offset within the day
    rid: np.ndarray       # uint64, request id
    item: np.ndarray      # index into the profile's pool
    aux: np.ndarray       # profile-specific (turn, run, language, …)
    ctok: np.ndarray      # completion tokens (per choice)
    status: np.ndarray
    bits: np.ndarray      # 31 random bits per call for cheap choices at render time
    cols: dict[str, list[int]] = field(default_factory=dict)

    def freeze(self) -> None:
        """Turn the numpy columns into Python lists for fast per-call access."""
        for name in ("ts", "rid", "item", "aux", "ctok", "status", "bits"):
            self.cols[name] = getattr(self, name).tolist()


def status_codes(rng: Rng, n: int, p429: float, p5xx: float = 0.003,
                 p400: float = 0.002) -> np.ndarray:
    """HTTP status per call: mostly 200, some 429/500/503/400."""
    u = rng.random(n)
    out = np.full(n, 200, dtype=np.int64)
    out[u < p429 + p5xx + p400] = 400
    out[u < p429 + p5xx] = 500
    out[u < p429 + p5xx * 0.3] = 503
    out[u < p429] = 429
    return out


def lognormal_tokens(rng: Rng, n: int, median: float, sigma: float, cap: int) -> np.ndarray:
    """Completion tokens: lognormal around ``median``, at least 1, at most ``cap``."""
    vals = np.exp(rng.normal(np.log(max(median, 1.0)), sigma, n))
    return np.clip(vals.astype(np.int64), 1, cap)


class Profile:
    """Base class. Subclasses set :attr:`name` and :attr:`label` and override the hooks."""

    name = "base"
    label = "benign"
    weekend = 1.0            # relative load on Saturday and Sunday
    curve: np.ndarray = HUMAN
    fixed_rate = False       # True: the scenario's volume scaling leaves this profile's rate

    # --- account set-up -------------------------------------------------------------------
    def setup(self, a: Account, rng: Rng, ctx: Context) -> None:
        """Draw the account's parameters, infrastructure and accounts.jsonl row."""
        raise NotImplementedError

    def expected_calls(self, a: Account, ctx: Context) -> float:
        """Expected calls over the window (for scaling a scenario to its target volume)."""
        days = max(0, min(a.end_day, ctx.days) - max(a.start_day, 0))
        return a.rate * days * (5 + 2 * self.weekend) / 7

    # --- one day --------------------------------------------------------------------------
    def count(self, a: Account, day: int, rng: Rng, ctx: Context) -> int:
        weekday = (ctx.start.weekday() + day) % 7
        factor = self.weekend if weekday >= 5 else 1.0
        return int(rng.poisson(a.rate * factor))

    def times(self, a: Account, day: int, n: int, rng: Rng, ctx: Context) -> np.ndarray:
        hours = rng.choice(24, n, p=a.hours(self.curve))
        return hours * HOUR_MS + rng.integers(0, HOUR_MS, n)

    def calls_today(self, a: Account, day: int, rng: Rng, ctx: Context) -> int:
        """Calls the account makes on ``day``: none outside its active days."""
        if not a.start_day <= day < a.end_day:
            return 0
        return self.count(a, day, rng, ctx)

    def day(self, a: Account, day: int, rng: Rng, ctx: Context) -> Batch | None:
        n = self.calls_today(a, day, rng, ctx)
        if n <= 0:
            return None
        ts = self.times(a, day, n, rng, ctx)
        return self.fill(a, day, ts, rng, ctx)

    def fill(self, a: Account, day: int, ts: np.ndarray, rng: Rng, ctx: Context) -> Batch:
        """Fill the other columns for the arrival offsets ``ts``; subclasses refine."""
        n = len(ts)
        return Batch(day=day, ts=ts, rid=self.rids(rng, n), item=rng.integers(0, 2**31, n),
                     aux=np.zeros(n, dtype=np.int64), ctok=self.tokens(a, n, rng),
                     status=status_codes(rng, n, a.p.get("p429", 0.002)),
                     bits=rng.integers(0, 2**31, n))

    @staticmethod
    def rids(rng: Rng, n: int) -> np.ndarray:
        return rng.integers(0, 2**63, n, dtype=np.int64)

    def tokens(self, a: Account, n: int, rng: Rng) -> np.ndarray:
        return lognormal_tokens(rng, n, a.p.get("tok_median", 300), a.p.get("tok_sigma", 0.6),
                                a.p.get("max_tokens") or 4096)

    # --- one call -------------------------------------------------------------------------
    def render(self, a: Account, b: Batch, j: int, ctx: Context) -> dict[str, Any]:
        raise NotImplementedError
