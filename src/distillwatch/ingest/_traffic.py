"""The traffic-log v1 line reader (the format adapters yield the same pairs)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from distillwatch.errors import InputError

__all__ = ["RowOrError", "iter_jsonl"]

#: What every format reader yields: the 1-based row number and a record or the reason it failed.
RowOrError = tuple[int, "dict[str, Any] | InputError"]


def iter_jsonl(path: Path, stream: BinaryIO) -> Iterator[RowOrError]:
    """Decode one JSON object per line; blank lines are skipped, bad ones reported."""
    name = str(path)
    for number, raw in enumerate(stream, start=1):
        if not raw.strip():
            continue
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            yield number, InputError(f"not valid JSON ({exc})", path=name, line=number,
                                     field="<line>")
            continue
        if not isinstance(obj, dict):
            yield number, InputError("must be a JSON object", path=name, line=number,
                                     field="<line>")
            continue
        yield number, obj
