"""Per-call features: one pure Arrow batch function with a fixed output schema.

``call_features(batch)`` takes a canonical batch (``distillwatch.ingest.CANONICAL_SCHEMA``,
full texts included) and returns the stored row: the canonical columns without the full texts,
bounded and secret-free excerpts, and the features computed from the full text. It does no I/O
and keeps no state, so any engine that maps Arrow batches can run it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Collection
from functools import lru_cache
from typing import TypeVar

import pyarrow as pa
import pyarrow.compute as pc

from distillwatch.features._hashing import stable_hashes_arrow
from distillwatch.features._patterns import COT_REGEX
from distillwatch.features._tokens import count_tokens
from distillwatch.ingest._schema import CANONICAL_SCHEMA, STORED_TEXT_CHARS, TEXT_COLUMNS
from distillwatch.ingest._secrets import SECRET_PATTERN, redact_secrets

__all__ = ["CALL_FEATURES_SCHEMA", "TEMPLATE_MIN_CHARS", "TEMPLATE_SPAN", "call_features",
           "ip_prefix"]

#: Prompts shorter than this carry no template hash: their prefix is the whole prompt.
TEMPLATE_MIN_CHARS = 80
#: Characters at each end of a prompt that form its template prefix and suffix.
TEMPLATE_SPAN = 40

_KEPT = [f for f in CANONICAL_SCHEMA if f.name not in TEXT_COLUMNS]

CALL_FEATURES_SCHEMA = pa.schema(
    [
        *_KEPT,
        ("prompt_tokens_estimated", pa.bool_()),
        ("system_chars", pa.int64()),
        ("user_chars", pa.int64()),
        ("history_chars", pa.int64()),
        ("response_chars", pa.int64()),
        ("prompt_hash", pa.int64()),
        ("system_hash", pa.int64()),
        ("template_prefix", pa.int64()),
        ("template_suffix", pa.int64()),
        ("cot", pa.bool_()),
        ("script", pa.string()),
        ("ip_prefix", pa.string()),
        ("system_excerpt", pa.string()),
        ("user_excerpt", pa.string()),
        ("response_excerpt", pa.string()),
    ]
)

_SCRIPTS = (
    ("han", r"\p{Han}"),
    ("kana", r"[\p{Hiragana}\p{Katakana}]"),
    ("hangul", r"\p{Hangul}"),
    ("cyrillic", r"\p{Cyrillic}"),
    ("arabic", r"\p{Arabic}"),
    ("devanagari", r"\p{Devanagari}"),
    ("latin", r"\p{Latin}"),
)


@lru_cache(maxsize=65536)
def ip_prefix(address: str) -> str | None:
    """The /24 of an IPv4 address or the /48 of an IPv6 one (``None`` if not an address)."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return None
    if ip.version == 4:
        return str(ipaddress.ip_network(f"{ip}/24", strict=False))
    return str(ipaddress.ip_network(f"{ip}/48", strict=False))


def _lower(text: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Lower-cased, trimmed text: equal prompts up to case and edge whitespace hash equal."""
    return pc.utf8_lower(pc.utf8_trim_whitespace(pc.fill_null(text, "")))


def _replace_where(text: pa.Array, hit: pa.Array, pattern: str, replacement: str) -> pa.Array:
    """``replace_substring_regex`` run only on the rows ``hit`` marks.

    The callers' ``hit`` marks every row the replacement would change, so the result is the
    same as replacing in every row; skipping the others saves RE2's cost per string.
    """
    hit = pc.fill_null(hit, False)
    index = pc.indices_nonzero(hit)
    if len(index) == 0:
        return text
    if len(index) == len(text):
        return pc.replace_substring_regex(text, pattern, replacement)
    changed = pc.replace_substring_regex(pc.take(text, index), pattern, replacement)
    return pc.replace_with_mask(text, hit, changed)


#: Rows that ``\s+ -> " "`` changes: a run of two, or any whitespace but the space (RE2's
#: ``\s`` is ``[\t\n\f\r ]``); and rows that ``[0-9]+ -> "0"`` may change. Matching is much
#: cheaper for RE2 than replacing.
_WHITESPACE_CHANGES = r"[\t\n\f\r]|  "
_DIGIT = r"[0-9]"


def _collapse(text: pa.Array) -> pa.Array:
    """Whitespace runs to one space and digit runs to ``0``: the shape of a template end."""
    spaced = _replace_where(text, pc.match_substring_regex(text, _WHITESPACE_CHANGES),
                            r"\s+", " ")
    return _replace_where(spaced, pc.match_substring_regex(spaced, _DIGIT), r"[0-9]+", "0")


def _template_hashes(lowered: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Hashes of the first and last ``TEMPLATE_SPAN`` characters of long prompts.

    The ends are cut wide first and normalised afterwards, so the regexes run on a few hundred
    characters per call whatever the prompt's length.
    """
    long_enough = pc.greater_equal(pc.utf8_length(lowered), TEMPLATE_MIN_CHARS)
    wide = 2 * TEMPLATE_SPAN
    head = _collapse(pc.utf8_slice_codeunits(lowered, 0, wide))
    tail = _collapse(pc.utf8_slice_codeunits(lowered, -wide))
    prefix = pc.utf8_slice_codeunits(pc.utf8_ltrim_whitespace(head), 0, TEMPLATE_SPAN)
    suffix = pc.utf8_slice_codeunits(pc.utf8_rtrim_whitespace(tail), -TEMPLATE_SPAN)
    empty = pa.scalar("", pa.string())
    prefix = pc.if_else(long_enough, prefix, empty)
    suffix = pc.if_else(long_enough, suffix, empty)
    return stable_hashes_arrow(prefix), stable_hashes_arrow(suffix)


def _dominant_script(text: pa.Array) -> pa.Array:
    """The most frequent script among the first 200 characters (ASCII text is ``latin``)."""
    head = pc.utf8_slice_codeunits(pc.fill_null(text, ""), 0, 200)
    ascii_only = pc.string_is_ascii(head)
    has_letter = pc.match_substring_regex(head, r"[A-Za-z]")
    result = pc.if_else(pc.and_(ascii_only, has_letter), pa.scalar("latin"),
                        pa.scalar(None, pa.string()))
    rest = pc.indices_nonzero(pc.invert(ascii_only))
    if len(rest) == 0:
        return result
    sub = pc.take(head, rest)
    best = pa.array([None] * len(sub), pa.string())
    best_count = pa.array([0] * len(sub), pa.int32())
    for name, pattern in _SCRIPTS:
        count = pc.fill_null(pc.count_substring_regex(sub, pattern), 0)
        better = pc.greater(count, best_count)
        best = pc.if_else(better, pa.scalar(name), best)
        best_count = pc.max_element_wise(best_count, count)
    values = result.to_pylist()
    for i, v in zip(rest.to_pylist(), best.to_pylist(), strict=True):
        values[i] = v
    return pa.array(values, pa.string())


def _excerpt(text: pa.Array) -> pa.Array:
    """The first ``STORED_TEXT_CHARS`` characters, key-shaped substrings hashed."""
    cut = pc.utf8_slice_codeunits(text, 0, STORED_TEXT_CHARS)
    suspect = pc.fill_null(pc.match_substring_regex(cut, SECRET_PATTERN), False)
    if not pc.any(suspect).as_py():
        return cut
    values = cut.to_pylist()
    for i in pc.indices_nonzero(suspect).to_pylist():
        values[i] = redact_secrets(values[i])
    return pa.array(values, pa.string())


def _prompt_tokens(batch: pa.RecordBatch) -> tuple[pa.Array, pa.Array]:
    """Logged prompt tokens, and a tokenizer's count where the log has none.

    Only the rows without a count are joined and tokenized, each distinct text once (a
    retried prompt is counted once per batch).
    """
    tokens = batch.column("prompt_tokens")
    missing = pc.is_null(tokens)
    if not pc.any(missing).as_py():
        return tokens, pa.array([False] * len(tokens), pa.bool_())
    rows = pc.indices_nonzero(missing)
    full = pc.binary_join_element_wise(
        *(pc.take(pc.fill_null(batch.column(name), ""), rows)
          for name in ("system_text", "history_text", "user_text")), "\n")
    texts = full.to_pylist()
    distinct = list(dict.fromkeys(texts))
    counted = dict(zip(distinct, count_tokens(distinct), strict=True))
    filled = pa.array([counted[t] for t in texts], pa.int64())
    return pc.replace_with_mask(tokens, missing, filled), missing


def call_features(batch: pa.RecordBatch, columns: Collection[str] | None = None
                  ) -> pa.RecordBatch:
    """Stored row with per-call features for every canonical row in ``batch``.

    ``columns`` computes only those features (the result then holds just them, in schema
    order): a consumer that reads a few, such as the online detector, skips the cost of the
    rest (each regex is compiled once per call, whatever the batch's size).
    """
    system = batch.column("system_text")
    user = batch.column("user_text")
    norm_user = _lower(user)
    templates = _once(lambda: _template_hashes(norm_user))
    tokens = _once(lambda: _prompt_tokens(batch))

    def cot() -> pa.Array:
        asking = pc.binary_join_element_wise(pc.fill_null(system, ""), pc.fill_null(user, ""),
                                             "\n")
        return pc.fill_null(pc.match_substring_regex(asking, COT_REGEX), False)

    def ip_prefixes() -> pa.Array:
        ips = batch.column("client_ip").to_pylist()
        return pa.array([ip_prefix(ip) if ip else None for ip in ips], pa.string())

    builders: dict[str, Callable[[], pa.Array]] = {
        "prompt_tokens": lambda: tokens()[0],
        "prompt_tokens_estimated": lambda: tokens()[1],
        "system_chars": lambda: _chars(system),
        "user_chars": lambda: _chars(user),
        "history_chars": lambda: _chars(batch.column("history_text")),
        "response_chars": lambda: _chars(batch.column("response_text")),
        "prompt_hash": lambda: stable_hashes_arrow(norm_user),
        "system_hash": lambda: stable_hashes_arrow(_lower(system)),
        "template_prefix": lambda: templates()[0],
        "template_suffix": lambda: templates()[1],
        "cot": cot,
        "script": lambda: _dominant_script(user),
        "ip_prefix": ip_prefixes,
        "system_excerpt": lambda: _excerpt(system),
        "user_excerpt": lambda: _excerpt(user),
        "response_excerpt": lambda: _excerpt(batch.column("response_text")),
    }
    if columns is None:
        schema = CALL_FEATURES_SCHEMA
    else:
        wanted = set(columns)
        schema = pa.schema([f for f in CALL_FEATURES_SCHEMA if f.name in wanted])
    arrays = [builders[f.name]() if f.name in builders else batch.column(f.name)
              for f in schema]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _chars(text: pa.ChunkedArray | pa.Array) -> pa.Array:
    return pc.cast(pc.fill_null(pc.utf8_length(text), 0), pa.int64())


T = TypeVar("T")


def _once(make: Callable[[], T]) -> Callable[[], T]:
    """``make``, called at most once (two features share one computation)."""
    box: list[T] = []

    def get() -> T:
        if not box:
            box.append(make())
        return box[0]

    return get
