"""Turning a scenario into accounts: counts per profile, rings, look-alike groups, scaling."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np

from distillwatch.sim import _identity as ident
from distillwatch.sim._base import Account, Context
from distillwatch.sim._profiles import PROFILES
from distillwatch.sim._scenarios import Scenario

__all__ = ["build_accounts", "rng_for"]

_GROUP_PROFILES = {
    "company": ("coding_assistant", "app_features", "agent", "support_bot", "batch_job"),
    "university": ("hobbyist", "hobbyist", "power_user", "coding_assistant"),
    "reseller_customers": ("app_features", "consumer_chat", "support_bot"),
}
_RING_POOLS: tuple[tuple[str, ...], ...] = (
    ("sweep",), ("math_harvest", "code_harvest"), ("templates",), ("sweep", "math_harvest"),
)
_RING_WRAPPERS = ("### Instruction:\n{q}\n\n### Response:", "{q}\n\nPlease give a detailed, "
                  "well-structured answer.", "Task: {q}\nWrite a complete answer.", "{q}")


def rng_for(seed: int, *key: int) -> np.random.Generator:
    """An independent PCG64 stream for ``key`` (account index and day, or a group), so one
    account's behaviour never depends on the order in which others are generated."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))


def _allocate(mix: dict[str, float], total: int) -> dict[str, int]:
    """Largest-remainder allocation; every profile gets one account when there is room."""
    names = list(mix)
    base = 1 if total >= len(names) else 0
    rest = total - base * len(names)
    weight = sum(mix.values())
    raw = {k: rest * mix[k] / weight for k in names}
    out = {k: base + int(raw[k]) for k in names}
    left = total - sum(out.values())
    for k in sorted(names, key=lambda k: raw[k] - int(raw[k]), reverse=True)[:left]:
        out[k] += 1
    return out


def _sizes(sc: Scenario, n: int) -> tuple[list[tuple[int, bool]], list[tuple[str, int]]]:
    factor = n / sc.accounts
    rings = [(size if factor == 1 else max(3, round(size * factor)), shared)
             for size, shared in sc.rings]
    groups = [(kind, size if factor == 1 else max(2, round(size * factor)))
              for kind, size in sc.groups]
    # rings and groups take at most 40% of the accounts; drop the largest ones first
    while rings and sum(s for s, _ in rings) + sum(s for _, s in groups) > 0.4 * n:
        if groups and sum(s for _, s in groups) > sum(s for s, _ in rings) / 2:
            groups.remove(max(groups, key=lambda g: g[1]))
        elif len(rings) > 1:
            rings.remove(max(rings, key=lambda r: r[0]))
        else:
            rings = [(max(3, int(0.2 * n)), rings[0][1])] if n >= 15 else []
            break
    return rings, groups


def _ring_group(rng: np.random.Generator, ctx: Context, size: int, shared: bool) -> dict[str, Any]:
    base = ctx.start - timedelta(days=float(rng.uniform(1, 30)))
    agents = [ident.SDK_AGENTS[int(i)] for i in rng.integers(0, len(ident.SDK_AGENTS), 8)]
    agents += list(ident.BROWSERISH)
    g: dict[str, Any] = {
        "kind": "ring", "size": size, "shared": shared, "stealth": float(rng.beta(1.3, 1.3)),
        "pools": _RING_POOLS[int(rng.integers(len(_RING_POOLS)))],
        "wrappers": [_RING_WRAPPERS[int(rng.integers(len(_RING_WRAPPERS)))]],
        "system": [None, "You are a helpful assistant."][int(rng.integers(2))],
        "max_tokens": int(rng.choice([4096, 8192])), "agents": list(dict.fromkeys(agents)),
        "created": base, "spread_h": 8.0 if shared else 96.0,
        "payments": [ident.hexid(rng, "pm_", 10) for _ in range(int(rng.integers(2, 6)))],
        "p_shared_payment": 0.7 if shared else 0.15,
    }
    if shared:
        g["ips"] = (ident.ips(rng, ident.PROXY, int(rng.integers(6, 20)), 0.1)
                    + ident.ips(rng, ident.CLOUD, int(rng.integers(2, 6))))
        g["domains"] = [ident.throwaway_domain(rng) for _ in range(int(rng.integers(1, 4)))]
    return g


def _lookalike(rng: np.random.Generator, ctx: Context, kind: str) -> dict[str, Any]:
    g: dict[str, Any] = {"kind": kind}
    if kind == "company":
        g.update(domain=ident.company_domain(rng), ips=ident.ips(rng, ident.CLOUD, 3),
                 payments=[ident.hexid(rng, "pm_", 10)], p_shared_payment=0.9,
                 created=ctx.start - timedelta(days=float(rng.uniform(60, 900))),
                 spread_h=4.0 if rng.random() < 0.5 else 24.0 * 300)
    elif kind == "university":
        g.update(domain="".join(ident.company_domain(rng).split(".")[:1]) + ".edu",
                 ips=[ident.ip(rng, ident.RESIDENTIAL)], payments=[], p_shared_payment=0.0,
                 created=ctx.start - timedelta(days=float(rng.uniform(2, 20))), spread_h=72.0)
    else:
        g.update(domain=ident.company_domain(rng), ips=ident.ips(rng, ident.CLOUD, 8),
                 payments=[ident.hexid(rng, "pm_", 10)], p_shared_payment=1.0,
                 created=ctx.start - timedelta(days=float(rng.uniform(30, 400))),
                 spread_h=24.0 * 120, agents=["LiteLLM/1.51.0"])
    return g


def _apply_group(a: Account, g: dict[str, Any], rng: np.random.Generator, ctx: Context) -> None:
    created: datetime = g["created"] + timedelta(hours=float(rng.uniform(0, g["spread_h"])))
    created = min(created, ctx.start - timedelta(hours=1))
    a.row["created_at"] = ident.rfc3339(created)
    if g.get("payments") and rng.random() < g["p_shared_payment"]:
        a.row["payment_fingerprint"] = g["payments"][int(rng.integers(len(g["payments"])))]
    if g.get("domain"):
        a.row["email_domain"] = g["domain"]
    elif g.get("domains"):
        a.row["email_domain"] = g["domains"][int(rng.integers(len(g["domains"])))]
    if g.get("ips"):
        pool = g["ips"]
        k = min(len(pool), int(rng.integers(1, 6)))
        a.ips = [pool[int(i)] for i in rng.choice(len(pool), k, replace=False)]
    if g.get("agents") and g["kind"] != "ring":
        a.agents = list(g["agents"])


def build_accounts(sc: Scenario, n: int, ctx: Context) -> list[Account]:
    """All accounts of a run, set up and scaled so the total matches the scenario's volume."""
    seed = ctx.seed
    rings, groups = _sizes(sc, n)
    members = sum(s for s, _ in rings) + sum(s for _, s in groups)
    counts = _allocate(sc.mix, max(0, n - members))
    specs: list[tuple[str, dict[str, Any] | None]] = []
    for name, k in counts.items():
        specs += [(name, None)] * k
    for gi, (kind, size) in enumerate(groups):
        grng = rng_for(seed, 1 << 20, gi)
        look = _lookalike(grng, ctx, kind)
        profiles = _GROUP_PROFILES[kind]
        specs += [(profiles[int(grng.integers(len(profiles)))], look) for _ in range(size)]
    campaigns: dict[str, str] = {}
    for ri, (size, shared) in enumerate(rings):
        rrng = rng_for(seed, 1 << 21, ri)
        ring = _ring_group(rrng, ctx, size, shared)
        ring["campaign"] = ident.hexid(rrng, "cmp_", 6)
        specs += [("ring", {**ring, "member": m}) for m in range(size)]
    pivot_campaign = ident.hexid(rng_for(seed, 1 << 22), "cmp_", 6)
    accounts: list[Account] = []
    for idx, (name, g) in enumerate(specs):
        rng = rng_for(seed, idx, 0)
        prof = PROFILES[name]
        a = Account(idx=idx, account_id=ident.hexid(rng, "acct_", 8), profile=prof,
                    label=prof.label, campaign=None, row={}, group=g)
        prof.setup(a, rng, ctx)
        if g is not None:
            _apply_group(a, g, rng, ctx)
        if prof.label == "harvester":
            if g is not None and "campaign" in g:
                a.campaign = g["campaign"]
            elif name == "pivot":
                a.campaign = pivot_campaign
            else:
                a.campaign = campaigns.setdefault(a.account_id, ident.hexid(rng, "cmp_", 6))
        accounts.append(a)
    # volumes are scaled to the scenario's target, except for profiles whose rate is their
    # defining trait (a slow-and-low harvester scaled down to a few calls a month would no
    # longer be harvesting anything)
    target = sc.calls_per_account_day * n * ctx.days
    scaled = [a for a in accounts if not a.profile.fixed_rate]
    fixed = sum(a.profile.expected_calls(a, ctx) for a in accounts if a.profile.fixed_rate)
    expected = sum(a.profile.expected_calls(a, ctx) for a in scaled)
    if expected > 0:
        factor = max(target - fixed, 0.1 * target) / expected
        for a in scaled:
            a.rate *= factor
    return accounts
