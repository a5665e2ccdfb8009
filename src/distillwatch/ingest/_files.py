"""Opening inputs: paths, globs, stdin, and gzip or zstd detected by their magic bytes."""

from __future__ import annotations

import glob
import io
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, cast

from distillwatch.errors import InputError

__all__ = ["LOG_SUFFIXES", "STDIN", "decompressing", "expand_inputs", "open_input"]

STDIN = "-"
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
#: File names a folder of logs is listed by.
LOG_SUFFIXES = (".jsonl", ".jsonl.gz", ".jsonl.zst", ".json", ".json.gz", ".json.zst", ".csv")


def expand_inputs(patterns: list[str] | tuple[str, ...]) -> list[str]:
    """Paths in the order given, globs expanded and sorted; ``-`` stands for stdin."""
    out: list[str] = []
    for pattern in patterns:
        if pattern == STDIN:
            out.append(STDIN)
            continue
        if any(ch in pattern for ch in "*?["):
            matches = sorted(glob.glob(pattern, recursive=True))
            if not matches:
                raise InputError("no file matches this pattern", path=pattern)
            out.extend(matches)
            continue
        path = Path(pattern)
        if path.is_dir():
            found = sorted(
                str(p) for p in path.iterdir()
                if p.name.endswith(LOG_SUFFIXES)
            )
            if not found:
                raise InputError("directory holds no .jsonl, .json or .csv file (plain, .gz "
                                 "or .zst)", path=pattern)
            out.extend(found)
            continue
        if not path.exists():
            raise InputError("file not found", path=pattern)
        out.append(pattern)
    return out


def decompressing(raw: BinaryIO, head: bytes, *, threaded: bool = True) -> BinaryIO:
    """``raw`` inflated as it is read when ``head`` (its first bytes) says gzip or zstd, else
    ``raw`` itself. ``threaded`` inflates gzip in a second thread (the scan's main process;
    not in Spark's Python workers, which run one per core already)."""
    if head[:2] == _GZIP_MAGIC:
        try:
            from isal import igzip, igzip_threaded

            if threaded:
                return cast(BinaryIO, igzip_threaded.open(raw, "rb", threads=1))
            return cast(BinaryIO, igzip.IGzipFile(fileobj=raw, mode="rb"))
        except ImportError:  # pragma: no cover - isal is a dependency; gzip is the fallback
            import gzip

            return cast(BinaryIO, gzip.GzipFile(fileobj=raw, mode="rb"))
    if head[:4] == _ZSTD_MAGIC:
        import zstandard

        reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
        return cast(BinaryIO, io.BufferedReader(cast(Any, reader), 1 << 20))
    return raw


@contextmanager
def open_input(name: str) -> Iterator[BinaryIO]:
    """Open a path (or ``-``) for binary reading, inflating gzip and zstd transparently."""
    if name == STDIN:
        raw: BinaryIO = sys.stdin.buffer
        close_raw = False
    else:
        try:
            raw = open(name, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise InputError(f"cannot open: {exc.strerror}", path=name) from exc
        close_raw = True
    buffered = cast(BinaryIO, raw if isinstance(raw, io.BufferedReader)
                    else io.BufferedReader(cast(Any, raw)))
    try:
        stream = decompressing(buffered, cast(io.BufferedReader, buffered).peek(4)[:4])
        try:
            yield stream
        finally:
            if stream is not buffered:
                stream.close()
    finally:
        if close_raw:
            buffered.close()
