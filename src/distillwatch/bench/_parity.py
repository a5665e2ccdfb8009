"""Do two scans agree? Every ``accounts.csv`` column and every finding, floats to a tolerance.

Used by the engine benchmark (``distillwatch bench --engine spark``) and the parity tests.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import orjson

__all__ = ["column_differences", "output_differences", "value_differences"]


def value_differences(a: Any, b: Any, where: str = "", tol: float = 1e-9) -> list[str]:
    """Where two JSON-like values differ: floats to ``tol`` (relative above 1), rest exactly."""
    if isinstance(a, dict):
        if not isinstance(b, dict) or a.keys() != b.keys():
            return [f"{where}: keys differ"]
        return [d for k in a for d in value_differences(a[k], b[k], f"{where}/{k}", tol)]
    if isinstance(a, list | tuple):
        if not isinstance(b, list | tuple) or len(a) != len(b):
            return [f"{where}: lengths differ"]
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True))
                for d in value_differences(x, y, f"{where}[{i}]", tol)]
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return [f"{where}: {a!r} != {b!r}"]
        if math.isnan(a) or math.isnan(b):
            return [] if math.isnan(a) and math.isnan(b) else [f"{where}: {a!r} != {b!r}"]
        return [] if abs(a - b) <= tol * max(1.0, abs(a)) else [f"{where}: {a!r} != {b!r}"]
    return [] if a == b else [f"{where}: {a!r} != {b!r}"]


def _rows(path: Path) -> list[dict[str, Any]]:
    with path.open() as fh:
        rows: list[dict[str, Any]] = list(csv.DictReader(fh))
    for row in rows:
        row["risk"] = float(row["risk"])
    return rows


def output_differences(a: Path, b: Path, tol: float = 1e-9) -> list[str]:
    """Differences between two scan output folders (empty when they agree)."""
    diffs = value_differences(_rows(a / "accounts.csv"), _rows(b / "accounts.csv"),
                              "accounts.csv", tol)
    findings = [[orjson.loads(x) for x in (d / "findings.jsonl").read_bytes().splitlines()]
                for d in (a, b)]
    return diffs + value_differences(findings[0], findings[1], "findings.jsonl", tol)


def column_differences(a: Path, b: Path, tol: float = 1e-9) -> dict[str, dict[str, int]]:
    """Per column, how many rows differ: ``accounts.csv`` by account, findings by position.

    The parity summary a benchmark reports: every column of both files with its count of
    differing rows (0 everywhere when the scans agree), plus the row counts themselves.
    """
    rows = [{r["account_id"]: r for r in _rows(d / "accounts.csv")} for d in (a, b)]
    accounts = {"rows": len(rows[0]),
                "missing_or_extra": len(rows[0].keys() ^ rows[1].keys())}
    shared = rows[0].keys() & rows[1].keys()
    for column in next(iter(rows[0].values()), {}):
        accounts[column] = sum(bool(value_differences(rows[0][k][column], rows[1][k][column],
                                                      tol=tol)) for k in shared)
    found = [[orjson.loads(x) for x in (d / "findings.jsonl").read_bytes().splitlines()]
             for d in (a, b)]
    findings = {"rows": len(found[0]), "missing_or_extra": abs(len(found[0]) - len(found[1]))}
    for x, y in zip(found[0], found[1], strict=False):
        for key in x.keys() | y.keys():
            findings.setdefault(key, 0)
            findings[key] += bool(value_differences(x.get(key), y.get(key), tol=tol))
    return {"accounts.csv": accounts, "findings.jsonl": findings}
