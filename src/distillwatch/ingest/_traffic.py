"""The traffic-log v1 line reader (the format adapters yield the same pairs)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from distillwatch.errors import InputError

__all__ = ["RowOrError", "decode_line", "iter_jsonl"]

#: What every format reader yields: the 1-based row number and a record or the reason it failed.
RowOrError = tuple[int, "dict[str, Any] | InputError"]


def decode_line(raw: bytes, name: str, number: int) -> dict[str, Any] | InputError:
    """One line -> the JSON object it holds, or the reason it is not one."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return InputError(f"not valid JSON ({exc})", path=name, line=number, field="<line>")
    if not isinstance(obj, dict):
        return InputError("must be a JSON object", path=name, line=number, field="<line>")
    return obj


def iter_jsonl(path: Path, stream: BinaryIO) -> Iterator[RowOrError]:
    """Decode one JSON object per line; blank lines are skipped, bad ones reported."""
    name = str(path)
    for number, raw in enumerate(stream, start=1):
        if raw.strip():
            yield number, decode_line(raw, name, number)
