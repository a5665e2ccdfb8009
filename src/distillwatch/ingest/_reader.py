"""Streaming reader: inputs in any supported format -> validated canonical Arrow batches.

Memory stays flat: rows are gathered into batches of ``batch_size`` and handed on. A bad line
never stops the read (unless ``strict``): it is counted per file and the first few are kept with
file, line and field so the summary can show them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa

from distillwatch.errors import InputError
from distillwatch.ingest._canonical import canonical_row
from distillwatch.ingest._files import open_input
from distillwatch.ingest._schema import CANONICAL_SCHEMA
from distillwatch.ingest._traffic import RowOrError, iter_jsonl
from distillwatch.ingest._validate import validate_traffic_record

__all__ = ["FORMATS", "BadLine", "ReadStats", "convert_item", "read_canonical_batches", "to_batch"]

Adapter = Callable[[Path, BinaryIO], Iterator[RowOrError]]


def _adapter(fmt: str) -> Adapter:
    """The row reader for a format (adapters are imported only when asked for)."""
    if fmt == "litellm":
        from distillwatch.ingest._litellm import iter_litellm_spend_logs

        return iter_litellm_spend_logs
    if fmt == "otel":
        from distillwatch.ingest._otel import iter_otel_genai_spans

        return iter_otel_genai_spans
    return iter_jsonl


FORMATS = ("traffic", "litellm", "otel")
_KEEP_BAD = 50


@dataclass(frozen=True)
class BadLine:
    """One input row that could not be used."""

    path: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.field}: {self.message}"


@dataclass
class ReadStats:
    """What a read saw: rows read and used, bad rows per file and the first few in detail."""

    rows: int = 0
    good: int = 0
    bad: int = 0
    bad_by_file: dict[str, int] = field(default_factory=dict)
    bad_examples: list[BadLine] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def add_bad(self, bad: BadLine) -> None:
        self.bad += 1
        self.bad_by_file[bad.path] = self.bad_by_file.get(bad.path, 0) + 1
        if len(self.bad_examples) < _KEEP_BAD:
            self.bad_examples.append(bad)


def _bad_from_error(err: InputError, path: str, row: int) -> BadLine:
    message = str(err)
    prefix = f"{err.path}:{err.line}: " if err.path else ""
    if prefix and message.startswith(prefix):
        message = message[len(prefix):]
    suffix = f" (field {err.field!r})"
    if err.field and message.endswith(suffix):
        message = message[: -len(suffix)]
    return BadLine(err.path or path, err.line or row, err.field or "<line>", message)


def convert_item(name: str, number: int, item: dict[str, Any] | InputError
                 ) -> tuple[Any, ...] | BadLine:
    """One decoded row -> a canonical row (with provenance), or the reason it is unusable."""
    if isinstance(item, InputError):
        return _bad_from_error(item, name, number)
    problem = validate_traffic_record(item)
    if problem is not None:
        return BadLine(name, number, problem[0], problem[1])
    return (*canonical_row(item), name, number)


_ROW_TYPE = pa.struct(list(CANONICAL_SCHEMA))


def to_batch(rows: list[tuple[Any, ...]]) -> pa.RecordBatch:
    """Canonical rows (as made by ``convert_item``) -> one Arrow batch.

    Converting the tuples as one struct array lets Arrow walk the rows once in C++, which is
    about a quarter cheaper than transposing them in Python first.
    """
    return pa.RecordBatch.from_struct_array(pa.array(rows, type=_ROW_TYPE))


def read_canonical_batches(
    inputs: list[str],
    *,
    fmt: str = "traffic",
    batch_size: int = 8192,
    strict: bool = False,
    stats: ReadStats | None = None,
    on_rows: Callable[[int], None] | None = None,
) -> Iterator[pa.RecordBatch]:
    """Yield canonical batches from every input in order; fill ``stats`` as it goes."""
    if fmt not in FORMATS:
        raise InputError(f"unknown input format {fmt!r}; choose one of {', '.join(FORMATS)}")
    adapter = _adapter(fmt)
    stats = stats if stats is not None else ReadStats()
    rows: list[tuple[Any, ...]] = []
    for name in inputs:
        stats.files.append(name)
        with open_input(name) as stream:
            for number, item in adapter(Path(name), stream):
                stats.rows += 1
                row = convert_item(name, number, item)
                if not isinstance(row, BadLine):
                    rows.append(row)
                    stats.good += 1
                    if len(rows) >= batch_size:
                        yield to_batch(rows)
                        if on_rows:
                            on_rows(len(rows))
                        rows = []
                    continue
                bad = row
                if strict:
                    if rows:  # keep what was read before the bad line
                        yield to_batch(rows)
                    raise InputError(bad.message, path=bad.path, line=bad.line, field=bad.field)
                stats.add_bad(bad)
    if rows:
        yield to_batch(rows)
        if on_rows:
            on_rows(len(rows))
