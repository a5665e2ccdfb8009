"""``distillwatch convert``: traffic logs -> Parquet in the canonical schema, partitioned by day.

One gzip file is one Spark task (gzip cannot be split), so a cluster scans a day of logs only as
fast as its biggest file. Parquet files cut into row groups spread over every executor, and a
``day=YYYY-MM-DD`` folder per day lets a run read just the days it needs. Rows are validated
on the way (the same reader as ``scan``): bad lines are counted and reported, never written.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from distillwatch.ingest import CANONICAL_SCHEMA, ReadStats, expand_inputs, read_canonical_batches

__all__ = ["PARQUET_SCHEMA", "convert_to_parquet"]

#: The canonical schema plus the partition column.
PARQUET_SCHEMA = CANONICAL_SCHEMA.append(pa.field("day", pa.date32()))

#: Rows per Parquet file and per row group (a row group is the unit of a Spark task's split).
ROWS_PER_FILE = 1_000_000
ROWS_PER_GROUP = 65_536


def _with_day(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        day = pc.cast(batch.column("ts"), pa.date32())
        yield pa.RecordBatch.from_arrays([*batch.columns, day], schema=PARQUET_SCHEMA)


def convert_to_parquet(inputs: Sequence[str], out: Path, *, fmt: str = "traffic",
                       strict: bool = False, stats: ReadStats | None = None,
                       on_rows: Callable[[int], None] | None = None) -> ReadStats:
    """Write every usable call of ``inputs`` under ``out/day=YYYY-MM-DD/``.

    Files of earlier runs stay (each run's files carry their own id), so a new day's logs can
    be converted into the same folder; converting the same logs twice stores them twice, which
    the scan's ``request_id`` de-duplication absorbs.
    """
    stats = stats if stats is not None else ReadStats()
    batches = read_canonical_batches(expand_inputs(list(inputs)), fmt=fmt, strict=strict,
                                     stats=stats, on_rows=on_rows, batch_size=65_536)
    ds.write_dataset(
        _with_day(batches), out, schema=PARQUET_SCHEMA, format="parquet",
        partitioning=ds.partitioning(pa.schema([("day", pa.date32())]), flavor="hive"),
        basename_template=f"part-{uuid.uuid4().hex[:12]}-{{i}}.parquet",
        existing_data_behavior="overwrite_or_ignore",
        max_rows_per_file=ROWS_PER_FILE, max_rows_per_group=ROWS_PER_GROUP,
        min_rows_per_group=min(ROWS_PER_GROUP, 8192),
    )
    return stats
