"""Opening inputs: paths, globs, stdin, and gzip detected by its magic bytes."""

from __future__ import annotations

import glob
import io
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, cast

from distillwatch.errors import InputError

__all__ = ["STDIN", "expand_inputs", "open_input"]

STDIN = "-"
_GZIP_MAGIC = b"\x1f\x8b"


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
                if p.name.endswith((".jsonl", ".jsonl.gz", ".json", ".json.gz", ".csv"))
            )
            if not found:
                raise InputError("directory holds no .jsonl, .jsonl.gz, .json or .csv file",
                                 path=pattern)
            out.extend(found)
            continue
        if not path.exists():
            raise InputError("file not found", path=pattern)
        out.append(pattern)
    return out


def _gunzip(raw: BinaryIO) -> BinaryIO:
    try:
        from isal import igzip_threaded  # fast inflate in a second thread

        return cast(BinaryIO, igzip_threaded.open(raw, "rb", threads=1))
    except ImportError:  # pragma: no cover - isal is a dependency; gzip is the fallback
        import gzip

        return cast(BinaryIO, gzip.GzipFile(fileobj=raw, mode="rb"))


@contextmanager
def open_input(name: str) -> Iterator[BinaryIO]:
    """Open a path (or ``-``) for binary reading, inflating gzip transparently."""
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
        head = cast(io.BufferedReader, buffered).peek(2)[:2]
        stream: BinaryIO = _gunzip(buffered) if head == _GZIP_MAGIC else buffered
        try:
            yield stream
        finally:
            if stream is not buffered:
                stream.close()
    finally:
        if close_raw:
            buffered.close()
