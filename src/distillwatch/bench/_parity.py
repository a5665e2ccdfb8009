"""Do two scans agree? Every ``accounts.csv`` column and every finding, floats to a tolerance.

Used by the engine benchmark (``distillwatch bench --engine spark``) and the parity tests.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import orjson

__all__ = ["output_differences", "value_differences"]


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
