"""Writing the three output files reproducibly: traffic in time order, day by day."""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import IO, Any, cast

import numpy as np
import orjson

from distillwatch.sim._base import Account, Batch, Context

__all__ = ["day_records", "open_gzip", "write_jsonl"]

_gz: ModuleType
try:   # isal is much faster; gzip is the fallback
    from isal import igzip as _isal

    _gz, _LEVEL = _isal, 0
except ImportError:  # pragma: no cover - isal is a declared dependency
    _gz, _LEVEL = gzip, 1


@contextmanager
def open_gzip(path: Path) -> Iterator[IO[bytes]]:
    """A gzip writer with a fixed header (mtime 0, no name) so bytes are reproducible."""
    with path.open("wb") as raw, _gz.GzipFile(filename="", mode="wb", compresslevel=_LEVEL,
                                              fileobj=raw, mtime=0) as gz:
        yield cast(IO[bytes], gz)


def day_records(
    accounts: list[Account], day: int, ctx: Context, rng_for: Callable[..., np.random.Generator],
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(profile name, record) for every call of ``day``, by timestamp then request id."""
    batches: list[tuple[Account, Batch]] = []
    for a in accounts:
        b = a.profile.day(a, day, rng_for(ctx.seed, a.idx, day + 1), ctx)
        if b is not None and len(b.ts):
            b.freeze()
            batches.append((a, b))
    if not batches:
        return
    ts = np.concatenate([b.ts for _, b in batches])
    rid = np.concatenate([b.rid for _, b in batches])
    which = np.concatenate([np.full(len(b.ts), i) for i, (_, b) in enumerate(batches)])
    pos = np.concatenate([np.arange(len(b.ts)) for _, b in batches])
    order = np.lexsort((rid, ts))
    for i, j in zip(which[order].tolist(), pos[order].tolist(), strict=True):
        a, b = batches[i]
        yield a.profile.name, a.profile.render(a, b, j, ctx)


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    """Plain JSON Lines, one object per line."""
    with path.open("wb") as fh:
        for row in rows:
            fh.write(orjson.dumps(row))
            fh.write(b"\n")
