"""The per-call work Spark runs in its Python workers, through ``mapInArrow``.

These are the very functions the DuckDB path runs (``decode_line`` -> ``convert_item`` ->
``to_batch`` -> ``call_features``), wrapped to read Spark's input rows and to return one fixed
Arrow schema: the stored call row plus two columns that say why a line was unusable. A good
line has them null; a bad line has only ``source``, ``line`` and the reason set. This module
does not import PySpark, so it is cheap to load in every worker.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any, BinaryIO

import pyarrow as pa

from distillwatch.features import CALL_FEATURES_SCHEMA, call_features
from distillwatch.ingest import CANONICAL_SCHEMA, BadLine
from distillwatch.ingest._files import decompressing
from distillwatch.ingest._reader import convert_item, to_batch
from distillwatch.ingest._traffic import decode_line

__all__ = ["BATCH_ROWS", "MAPPED_SCHEMA", "featurise_canonical", "featurise_files"]

#: Rows per output batch (as in the DuckDB path's chunks).
BATCH_ROWS = 8192

#: What the mapper returns: the stored call row, then the reason a line was unusable.
MAPPED_SCHEMA = pa.schema([*CALL_FEATURES_SCHEMA, ("bad_field", pa.string()),
                           ("bad_message", pa.string())])


def _with_reasons(batch: pa.RecordBatch) -> pa.RecordBatch:
    nulls = pa.nulls(batch.num_rows, pa.string())
    return pa.RecordBatch.from_arrays([*batch.columns, nulls, nulls], schema=MAPPED_SCHEMA)


def _bad_batch(bad: list[BadLine]) -> pa.RecordBatch:
    n = len(bad)
    given = {
        "source": pa.array([b.path for b in bad], pa.string()),
        "line": pa.array([b.line for b in bad], pa.int64()),
        "bad_field": pa.array([b.field for b in bad], pa.string()),
        "bad_message": pa.array([b.message for b in bad], pa.string()),
    }
    arrays = [given.get(f.name, pa.nulls(n, f.type)) for f in MAPPED_SCHEMA]
    return pa.RecordBatch.from_arrays(arrays, schema=MAPPED_SCHEMA)


def _lines(content: bytes) -> BinaryIO:
    """The file's bytes as a line stream, gzip or zstd inflated as it is read (never all at
    once)."""
    return decompressing(io.BytesIO(content), content[:4], threaded=False)


def _featurise_file(name: str, content: bytes) -> Iterator[pa.RecordBatch]:
    """One whole input file -> mapped batches; line numbers count every line, blank or not."""
    rows: list[tuple[Any, ...]] = []
    bad: list[BadLine] = []
    with _lines(content) as stream:
        for number, raw in enumerate(stream, start=1):
            if not raw.strip():
                continue
            row = convert_item(name, number, decode_line(raw, name, number))
            if isinstance(row, BadLine):
                bad.append(row)
                continue
            rows.append(row)
            if len(rows) >= BATCH_ROWS:
                yield _with_reasons(call_features(to_batch(rows)))
                rows = []
    if rows:
        yield _with_reasons(call_features(to_batch(rows)))
    if bad:
        yield _bad_batch(bad)


def featurise_files(batches: Iterator[pa.RecordBatch], names: dict[str, str]
                    ) -> Iterator[pa.RecordBatch]:
    """``mapInArrow`` over Spark's ``binaryFile`` rows (``path``, ``content``).

    ``names`` maps the path Spark reports (a URI) to the name the user gave, which is what
    the DuckDB path records as ``source`` and shows in bad-line reports.
    """
    for batch in batches:
        paths = batch.column("path").to_pylist()
        contents = batch.column("content")
        for i, path in enumerate(paths):
            content = contents[i].as_py()
            yield from _featurise_file(names.get(path, path), content or b"")


def featurise_canonical(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """``mapInArrow`` over canonical rows (Parquet written by ``distillwatch convert``)."""
    for batch in batches:
        if batch.num_rows == 0:
            continue
        canonical = pa.RecordBatch.from_arrays(
            [batch.column(f.name).cast(f.type) for f in CANONICAL_SCHEMA],
            schema=CANONICAL_SCHEMA)
        yield _with_reasons(call_features(canonical))
