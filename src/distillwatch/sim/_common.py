"""Helpers shared by profiles: account rows, model adoption, sessions, prompt pools."""

from __future__ import annotations

from typing import Any

import numpy as np

from distillwatch.sim import _identity as ident
from distillwatch.sim._bank import Conv
from distillwatch.sim._base import DAY_MS, HOUR_MS, Account, Context, Rng

__all__ = ["TZ", "adopt", "conv_lengths", "identity", "pick", "sessions", "user_id"]

TZ = {"US": (-8, -5), "CA": (-8, -5), "MX": (-6, -6), "BR": (-3, -3), "GB": (0, 0), "DE": (1, 1),
      "FR": (1, 1), "NL": (1, 1), "ES": (1, 1), "IT": (1, 1), "PL": (1, 1), "SE": (1, 1),
      "CH": (1, 1), "IL": (2, 2), "UA": (2, 2), "TR": (3, 3), "AE": (4, 4), "IN": (5, 6),
      "VN": (7, 7), "ID": (7, 7), "SG": (8, 8), "HK": (8, 8), "TW": (8, 8), "JP": (9, 9),
      "KR": (9, 9), "AU": (10, 10), "NG": (1, 1)}

TIERS = ("free", "tier-1", "tier-2", "tier-3", "tier-4", "tier-5", "enterprise")


def pick(rng: Rng, options: tuple[Any, ...] | list[Any]) -> Any:
    return options[int(rng.integers(len(options)))]


def identity(
    a: Account, rng: Rng, ctx: Context, *, email: str, age: tuple[float, float],
    tier: tuple[int, int], keys: tuple[int, int] = (1, 3), family: tuple[str, ...] = ident.CLOUD,
    n_ips: tuple[int, int] = (1, 4), v6: float = 0.1, agents: tuple[str, ...] | None = None,
    n_agents: tuple[int, int] = (1, 2), allowlisted: bool = False,
) -> None:
    """Fill the account row and infrastructure with the usual draws."""
    country = ident.country(rng)
    lo, hi = TZ.get(country, (0, 0))
    a.tz = int(rng.integers(lo, hi + 1))
    created = ident.days_before(ctx.start, float(rng.uniform(*age)))
    domain = {"company": ident.company_domain, "consumer": ident.free_mail,
              "throwaway": ident.throwaway_domain}[email](rng)
    a.row = {
        "account_id": a.account_id, "created_at": ident.rfc3339(created),
        "payment_fingerprint": ident.hexid(rng, "pm_", 10), "email_domain": domain,
        "country": country, "tier": TIERS[int(rng.integers(tier[0], tier[1] + 1))],
        "allowlisted": allowlisted,
    }
    a.keys = [ident.hexid(rng, "key_", 6) for _ in range(int(rng.integers(keys[0], keys[1] + 1)))]
    a.ips = ident.ips(rng, family, int(rng.integers(n_ips[0], n_ips[1] + 1)), v6)
    pool = agents or ident.SDK_AGENTS
    a.agents = list(dict.fromkeys(
        pool[int(i)] for i in rng.integers(0, len(pool), int(rng.integers(n_agents[0],
                                                                          n_agents[1] + 1)))))


def adopt(a: Account, rng: Rng, ctx: Context, *, p_never: float = 0.4,
          mean_days: float = 6.0, share: tuple[float, float] = (0.1, 0.7)) -> None:
    """When (if ever) a benign account starts using the newly released model, and how much."""
    if rng.random() < p_never:
        return
    a.adopt_ms = ctx.release_ms + int(rng.exponential(mean_days) * DAY_MS) + HOUR_MS
    a.adopt_share = float(rng.uniform(*share))


def user_id(a: Account, u: int) -> str:
    """An opaque end-user id as an app would pass it in ``request.user``."""
    return f"u_{(u * 2654435761 + a.idx * 40503) & 0xFFFFFFFFFF:010x}"


_LEN_CACHE: dict[int, np.ndarray] = {}


def conv_lengths(chats: list[Conv]) -> np.ndarray:
    """Turn counts of the chat pool (cached per pool object)."""
    got = _LEN_CACHE.get(id(chats))
    if got is None or len(got) != len(chats):
        got = np.array([len(c) for c in chats], dtype=np.int64)
        _LEN_CACHE[id(chats)] = got
    return got


def sessions(
    rng: Rng, n_calls: int, weights: np.ndarray, turns: np.ndarray, gap_s: tuple[float, float],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lay out sessions in a day: returns (offsets ms, session index, turn index) per call.

    ``turns`` holds the turn count of each candidate session; sessions are used in order until
    about ``n_calls`` calls are placed. Calls that would spill past midnight are dropped.
    """
    cum = np.cumsum(turns)
    k = int(np.searchsorted(cum, n_calls)) + 1
    k = min(k, len(turns))
    turns = turns[:k]
    starts = rng.choice(24, k, p=weights) * HOUR_MS + rng.integers(0, HOUR_MS, k)
    sess = np.repeat(np.arange(k), turns)
    first = np.repeat(np.cumsum(turns) - turns, turns)
    turn = np.arange(len(sess)) - first
    gaps = rng.uniform(gap_s[0], gap_s[1], len(sess)) * 1000
    gaps[first == np.arange(len(sess))] = 0
    # cumulative gap within each session
    csum = np.cumsum(gaps)
    base = np.repeat(csum[np.cumsum(turns) - turns], turns)
    ts = starts[sess] + (csum - base).astype(np.int64)
    keep = ts < DAY_MS
    return ts[keep], sess[keep], turn[keep]
