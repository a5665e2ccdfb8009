"""Parse, validate and featurise traffic-log lines in worker processes.

The main process only inflates the input and cuts it into blocks of whole lines (one ``read``
and one ``count`` per block, no per-line work); each worker splits a block into lines and turns
it into one feature batch (Arrow IPC bytes) plus the block's bad lines. Blocks come back in
input order, so the store sees exactly what the sequential path would give. Used for the
traffic-log format when more than one worker is asked for; adapters and ``--strict`` run
sequentially.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import sys
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

import pyarrow as pa

from distillwatch.features import call_features
from distillwatch.ingest import BadLine, ReadStats, open_input
from distillwatch.ingest._reader import convert_item, to_batch
from distillwatch.ingest._traffic import decode_line

__all__ = ["parallel_feature_batches"]

#: Bytes of input per block handed to a worker (about 8,000 calls of real traffic).
CHUNK_BYTES = 16 << 20

#: glibc ``mallopt`` parameters (malloc.h) and the values a worker sets: keep blocks of up to
#: 64 MB on the heap and keep freed memory instead of giving it back at once.
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
_STEADY_HEAP = ((_M_MMAP_THRESHOLD, 64 << 20), (_M_TRIM_THRESHOLD, 256 << 20),
                (_M_TOP_PAD, 64 << 20))


def steady_heap() -> bool:
    """Worker initialiser: stop glibc from mapping and unmapping every block's buffers.

    Each block allocates buffers of megabytes (the block, its lines, the Arrow batch). By
    default glibc serves them with fresh ``mmap``s and returns them on free, so every block
    page-faults its memory in again: about 1.7 s of a worker's kernel time on the small suite
    (329,000 calls), 0.8-1.0 s with these settings. Returns False where there is no glibc.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        return all(libc.mallopt(param, value) == 1 for param, value in _STEADY_HEAP)
    except (OSError, AttributeError):  # musl or another libc: keep its defaults
        return False


def split_lines(block: bytes) -> list[bytes]:
    """The lines of a block as iterating a binary file yields them (each keeps its ``\\n``)."""
    lines = block.split(b"\n")
    last = lines.pop()  # b"" when the block ends with a newline, else an unterminated last line
    lines = [line + b"\n" for line in lines]
    if last:
        lines.append(last)
    return lines


def featurise_block(name: str, first_line: int, block: bytes
                    ) -> tuple[bytes | None, list[BadLine], int]:
    """Worker: a block of whole lines -> ``featurise_chunk`` of its lines."""
    return featurise_chunk(name, first_line, split_lines(block))


def featurise_chunk(name: str, first_line: int, lines: list[bytes]
                    ) -> tuple[bytes | None, list[BadLine], int]:
    """Worker: lines -> (feature batch as IPC bytes or None, bad lines, non-blank lines)."""
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
    if not rows:
        return None, bad, seen
    batch = call_features(to_batch(rows))
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return sink.getvalue().to_pybytes(), bad, seen


def _blocks(name: str) -> Iterator[tuple[int, bytes]]:
    """(number of the block's first line, block of whole lines) over one input."""
    with open_input(name) as stream:
        first = 1
        while True:
            block = stream.read(CHUNK_BYTES)
            if not block:
                return
            if not block.endswith(b"\n"):
                block += stream.readline()
            yield first, block
            first += block.count(b"\n")


def parallel_feature_batches(
    inputs: list[str], *, workers: int, stats: ReadStats,
    on_rows: Callable[[int], None] | None = None,
) -> Iterator[pa.RecordBatch]:
    """Feature batches for traffic-log inputs, in input order, computed by ``workers``."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context,
                             initializer=steady_heap) as pool:
        pending: deque[Future[tuple[bytes | None, list[BadLine], int]]] = deque()

        def collect() -> Iterator[pa.RecordBatch]:
            payload, bad, seen = pending.popleft().result()
            stats.rows += seen
            stats.good += seen - len(bad)
            for b in bad:
                stats.add_bad(b)
            if payload is not None:
                batch = pa.ipc.open_stream(payload).read_next_batch()
                if on_rows:
                    on_rows(batch.num_rows)
                yield batch

        for name in inputs:
            stats.files.append(name)
            for first, block in _blocks(name):
                pending.append(pool.submit(featurise_block, name, first, block))
                while len(pending) > 2 * workers:
                    yield from collect()
        while pending:
            yield from collect()
