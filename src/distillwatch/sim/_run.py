"""``simulate``: build a scenario's accounts and write traffic, accounts and labels."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import orjson

from distillwatch.errors import ConfigError
from distillwatch.sim._bank import TextBank
from distillwatch.sim._base import DAY_MS, HOUR_MS, Context
from distillwatch.sim._build import build_accounts, rng_for
from distillwatch.sim._corpora import load_bank
from distillwatch.sim._responses import pools
from distillwatch.sim._scenarios import SCENARIOS
from distillwatch.sim._text import builtin_bank
from distillwatch.sim._writer import day_records, open_gzip, write_jsonl

__all__ = ["SimSummary", "simulate"]

TRAFFIC = "traffic.jsonl.gz"
ACCOUNTS = "accounts.jsonl"
LABELS = "labels.jsonl"


@dataclass(frozen=True)
class SimSummary:
    """What a run wrote."""

    out_dir: Path
    scenario: str
    seed: int
    days: int
    accounts: int
    harvesters: int
    calls: int
    seconds: float
    source: str
    release_ts: str
    calls_by_profile: dict[str, int] = field(default_factory=dict)
    accounts_by_profile: dict[str, int] = field(default_factory=dict)

    @property
    def calls_per_second(self) -> float:
        return self.calls / self.seconds if self.seconds > 0 else 0.0


def _bank(corpora: Path | str | None) -> TextBank:
    return builtin_bank() if corpora is None else load_bank(Path(corpora))


def simulate(
    out: Path | str, *, scenario: str = "mixed", accounts: int | None = None,
    days: int | None = None, seed: int = 0, corpora: Path | str | None = None,
    progress: Callable[[int, int, int], None] | None = None,
) -> SimSummary:
    """Write ``traffic.jsonl.gz``, ``accounts.jsonl`` and ``labels.jsonl`` into ``out``.

    The same arguments give byte-identical files. ``progress(day_done, days, calls_so_far)`` is
    called after each simulated day. Raises ``ConfigError`` for an unknown scenario or bad sizes
    and ``InputError`` for an unreadable corpora folder.
    """
    if scenario not in SCENARIOS:
        raise ConfigError(f"unknown scenario {scenario!r}; choose one of "
                          f"{', '.join(sorted(SCENARIOS))}")
    sc = SCENARIOS[scenario]
    n = sc.accounts if accounts is None else accounts
    d = sc.days if days is None else days
    if n < 1:
        raise ConfigError(f"--accounts must be at least 1, got {n}")
    if not 1 <= d <= 366:
        raise ConfigError(f"--days must be between 1 and 366, got {d}")
    if seed < 0:
        raise ConfigError(f"--seed must be non-negative, got {seed}")
    bank = _bank(corpora)
    started = time.perf_counter()
    start = datetime.fromisoformat(sc.start.replace("Z", "+00:00"))
    start_ms = int(start.timestamp() * 1000)
    release_ms = start_ms + int(sc.release_frac * d) * DAY_MS + 17 * HOUR_MS
    ctx = Context(bank=bank, replies=pools(), start=start, start_ms=start_ms, days=d,
                  release_ms=release_ms, seed=seed)
    accts = build_accounts(sc, n, ctx)
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    calls: Counter[str] = Counter()
    total = 0
    dumps = orjson.dumps
    with open_gzip(out_dir / TRAFFIC) as fh:
        for day in range(d):
            buf: list[bytes] = []
            for name, rec in day_records(accts, day, ctx, rng_for):
                calls[name] += 1
                buf.append(dumps(rec))
                if len(buf) >= 4096:
                    buf.append(b"")
                    fh.write(b"\n".join(buf))
                    total += len(buf) - 1
                    buf = []
            if buf:
                buf.append(b"")
                fh.write(b"\n".join(buf))
                total += len(buf) - 1
            if progress is not None:
                progress(day + 1, d, total)
    ordered = sorted(accts, key=lambda a: a.account_id)
    write_jsonl(out_dir / ACCOUNTS, [a.row for a in ordered])
    write_jsonl(out_dir / LABELS, [{"account_id": a.account_id, "label": a.label,
                                    "campaign": a.campaign, "profile": a.profile.name}
                                   for a in ordered])
    return SimSummary(
        out_dir=out_dir, scenario=scenario, seed=seed, days=d, accounts=len(accts),
        harvesters=sum(a.label == "harvester" for a in accts), calls=total,
        seconds=time.perf_counter() - started, source=bank.source,
        release_ts=datetime.fromtimestamp(release_ms / 1000, start.tzinfo).isoformat()
        .replace("+00:00", "Z"),
        calls_by_profile=dict(sorted(calls.items())),
        accounts_by_profile=dict(Counter(a.profile.name for a in accts)),
    )
