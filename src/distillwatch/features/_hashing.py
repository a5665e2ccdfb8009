"""Stable 63-bit hashes of strings (hashlib, so every engine and process agrees)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import pyarrow as pa

__all__ = ["stable_hash", "stable_hashes", "stable_hashes_arrow"]


def stable_hash(text: str) -> int:
    """A non-negative int64 from blake2b: equal for equal text, in every process and engine."""
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little") & 0x7FFF_FFFF_FFFF_FFFF


def stable_hashes(texts: Iterable[str | None]) -> list[int | None]:
    """``stable_hash`` over a column; nulls and empty strings stay null."""
    blake = hashlib.blake2b
    out: list[int | None] = []
    append = out.append
    for text in texts:
        if not text:
            append(None)
        else:
            append(int.from_bytes(blake(text.encode("utf-8"), digest_size=8).digest(), "little")
                   & 0x7FFF_FFFF_FFFF_FFFF)
    return out


def stable_hashes_arrow(texts: pa.Array | pa.ChunkedArray) -> pa.Array:
    """``stable_hashes`` of a string column as an int64 array, hashing its UTF-8 bytes as they
    lie in Arrow (no round trip through Python ``str``)."""
    blake = hashlib.blake2b
    out: list[int | None] = []
    append = out.append
    for raw in texts.cast(pa.binary()).to_pylist():
        if not raw:
            append(None)
        else:
            append(int.from_bytes(blake(raw, digest_size=8).digest(), "little")
                   & 0x7FFF_FFFF_FFFF_FFFF)
    return pa.array(out, pa.int64())
