"""Traffic-log lines -> canonical batch, with DuckDB doing the JSON work it can vouch for.

``convert_lines`` gives exactly what the Python reader (``convert_item`` over ``decode_line``)
gives for the same lines: the same canonical rows in line order, the same bad lines with the
same file, line, field and message, the same count of non-blank lines. Lines the SQL of
``_sqlcanon`` cannot vouch for, and every bad line, go through the Python reader itself.
"""

from __future__ import annotations

import threading
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from distillwatch.ingest._reader import BadLine, convert_item, to_batch
from distillwatch.ingest._schema import CANONICAL_SCHEMA
from distillwatch.ingest._sqlcanon import CANONICAL_SQL, GATE_PATTERNS, shape_ok
from distillwatch.ingest._traffic import decode_line

__all__ = ["convert_lines", "convert_lines_python"]

_local = threading.local()


def _connection() -> duckdb.DuckDBPyConnection:
    """One in-memory DuckDB per thread (and so per worker process), one DuckDB thread each."""
    con: duckdb.DuckDBPyConnection | None = getattr(_local, "con", None)
    if con is None:
        con = duckdb.connect()
        con.execute("SET threads = 1")
        con.execute("SET TimeZone = 'UTC'")
        _local.con = con
    return con


def _sql_rows(lines: list[bytes], numbers: list[int]) -> pa.Table | None:
    """The canonical rows SQL vouches for (``row`` struct and ``line``), or None."""
    raw = pa.array(lines, pa.binary())
    try:
        text = raw.cast(pa.string())  # checks UTF-8; invalid text is orjson's to reject
    except pa.ArrowInvalid:
        keep = [i for i, b in enumerate(lines) if _is_utf8(b)]
        if not keep:
            return None
        text = pc.take(raw, pa.array(keep)).cast(pa.string())
        numbers = [numbers[i] for i in keep]
    suspect = pc.match_substring_regex(text, GATE_PATTERNS[0])
    for pattern in GATE_PATTERNS[1:]:
        suspect = pc.or_(suspect, pc.match_substring_regex(text, pattern))
    keep_mask = pc.invert(suspect)
    con = _connection()
    con.register("_lines", pa.table({"l": text.filter(keep_mask),
                                      "line": pa.array(numbers, pa.int64()).filter(keep_mask)}))
    try:
        result = con.sql(CANONICAL_SQL).to_arrow_table()
    finally:
        con.unregister("_lines")
    return result.filter(pc.and_(result.column("ok"), _shapes_ok(result.column("shape"))))


_SHAPES: dict[str, bool] = {}
#: How ``CAST(list AS VARCHAR)`` prints an absent path ('-') and the JSON null type.
_TYPE_NAMES: dict[str, str | None] = {"-": None, "'NULL'": "NULL"}


def _shapes_ok(shapes: pa.ChunkedArray) -> pa.Array:
    """``shape_ok`` of each row's shape, computed once per distinct shape."""
    encoded = shapes.combine_chunks().dictionary_encode()
    verdicts = []
    for shape in encoded.dictionary.to_pylist():
        verdict = _SHAPES.get(shape)
        if verdict is None:
            types = [_TYPE_NAMES.get(x, x) for x in shape[1:-1].split(", ")]
            verdict = shape_ok(types)
            if len(_SHAPES) < 100_000:
                _SHAPES[shape] = verdict
        verdicts.append(verdict)
    return pc.take(pa.array(verdicts, pa.bool_()), encoded.indices)


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


_SQL_COLUMNS = [f for f in CANONICAL_SCHEMA if f.name != "source"]


def _to_canonical(rows: pa.Table, name: str) -> pa.Table:
    """SQL rows -> a table of ``CANONICAL_SCHEMA`` (same names, order and types)."""
    struct = rows.column("row").combine_chunks()
    arrays: dict[str, Any] = {f.name: struct.field(f.name).cast(f.type) for f in _SQL_COLUMNS}
    arrays["source"] = pa.array([name] * len(rows), pa.string())
    return pa.table([arrays[f.name] for f in CANONICAL_SCHEMA], schema=CANONICAL_SCHEMA)


def convert_lines_python(name: str, first_line: int, lines: list[bytes]
                         ) -> tuple[pa.RecordBatch | None, list[BadLine], int]:
    """The reference: every line through ``decode_line`` and ``convert_item``."""
    rows: list[tuple[Any, ...]] = []
    bad: list[BadLine] = []
    seen = 0
    for offset, raw in enumerate(lines):
        if not raw.strip():
            continue
        seen += 1
        number = first_line + offset
        row = convert_item(name, number, decode_line(raw, name, number))
        if isinstance(row, BadLine):
            bad.append(row)
        else:
            rows.append(row)
    return (to_batch(rows) if rows else None), bad, seen


def convert_lines(name: str, first_line: int, lines: list[bytes]
                  ) -> tuple[pa.RecordBatch | None, list[BadLine], int]:
    """Lines ``first_line``, ``first_line + 1``, ... of ``name`` -> (canonical batch or None,
    bad lines, non-blank lines), identical to ``convert_lines_python``."""
    candidates = [i for i, raw in enumerate(lines) if raw[:1] == b"{"]
    fast = None
    if candidates:
        try:
            fast = _sql_rows([lines[i] for i in candidates],
                             [first_line + i for i in candidates])
        except duckdb.Error:  # never lose a chunk to the fast path: the reference reads it all
            fast = None
    done: set[int] = set()
    tables: list[pa.Table] = []
    if fast is not None and fast.num_rows:
        tables.append(_to_canonical(fast, name))
        done = set(fast.column("line").to_pylist())
    rest = [raw for i, raw in enumerate(lines) if first_line + i not in done]
    numbers = [first_line + i for i, _ in enumerate(lines) if first_line + i not in done]
    rows: list[tuple[Any, ...]] = []
    bad: list[BadLine] = []
    seen = len(done)
    for number, raw in zip(numbers, rest, strict=True):
        if not raw.strip():
            continue
        seen += 1
        row = convert_item(name, number, decode_line(raw, name, number))
        if isinstance(row, BadLine):
            bad.append(row)
        else:
            rows.append(row)
    if rows:
        tables.append(pa.Table.from_batches([to_batch(rows)]))
    if not tables:
        return None, bad, seen
    table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
    if len(tables) > 1:
        table = table.take(pc.sort_indices(table.column("line")))
    return table.combine_chunks().to_batches()[0], bad, seen
