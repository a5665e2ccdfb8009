"""The faster ingest path gives exactly what the reference gives.

Each optimisation is checked against the code it replaces: byte blocks split into the lines a
file iterator yields, the worker path against the sequential reader on generated valid and
malformed records, the load of an empty table (staged, then renamed) against the staged
merge, and the feature function's shortcuts against the plain regex and hash they stand for.
"""

from __future__ import annotations

import gzip
import io
import json
import re
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from distillwatch import _workers
from distillwatch.features import call_features, stable_hashes
from distillwatch.features._calls import _collapse
from distillwatch.features._hashing import stable_hashes_arrow
from distillwatch.ingest import ReadStats, Store, read_canonical_batches
from factories import make_event

_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=60)
_SPACEY = st.text(st.sampled_from(list("ab 0129\t\n\r\f\x0b é漢 ")), max_size=90)


# -- blocks of lines -------------------------------------------------------------------------

@given(st.lists(st.binary(max_size=12).map(lambda b: b.replace(b"\n", b"")), max_size=12),
       st.booleans())
def test_split_lines_gives_the_lines_a_binary_file_yields(parts: list[bytes],
                                                         final_newline: bool) -> None:
    block = b"\n".join(parts) + (b"\n" if final_newline and parts else b"")
    assert _workers.split_lines(block) == list(io.BytesIO(block))


def test_blocks_cover_every_line_once_with_the_right_numbers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_workers, "CHUNK_BYTES", 10)
    lines = [b"x" * (i % 7) + b"\n" for i in range(50)] + [b"last, no newline"]
    path = tmp_path / "t.jsonl.gz"
    path.write_bytes(gzip.compress(b"".join(lines)))
    seen: list[tuple[int, bytes]] = []
    for first, block in _workers._blocks(str(path)):
        seen += list(enumerate(_workers.split_lines(block), start=first))
    assert seen == list(enumerate(lines, start=1))


# -- the worker path against the sequential reader ------------------------------------------

_VALUE = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                   st.floats(allow_nan=False, allow_infinity=False), _TEXT)
_PARTS = st.lists(st.fixed_dictionaries({"type": st.just("text")},
                                        optional={"text": st.one_of(_TEXT, st.none())}),
                  max_size=3)
_CONTENT = st.one_of(_TEXT, st.none(), _PARTS, st.integers())


@st.composite
def _record(draw: st.DrawFn) -> dict[str, Any]:
    """A traffic record, valid or not: unicode, content parts, huge ints, missing or null."""
    messages = draw(st.lists(st.fixed_dictionaries(
        {"role": st.sampled_from(["system", "developer", "user", "assistant", "tool"]),
         "content": _CONTENT}), max_size=4))
    record = make_event(f"acct_{draw(st.integers(0, 3))}",
                        user_text=draw(_TEXT) or "hello",
                        request_id=f"r{draw(st.integers(0, 30))}")
    record["request"]["messages"] = messages or record["request"]["messages"]
    for key in draw(st.lists(st.sampled_from(
            ["temperature", "top_p", "n", "max_tokens", "logprobs", "top_logprobs", "seed",
             "stream", "user", "reasoning_effort"]), max_size=4, unique=True)):
        record["request"][key] = draw(_VALUE)
    for key in draw(st.lists(st.sampled_from(
            ["status", "latency_ms", "key_id", "client_ip", "ts", "account_id"]),
            max_size=2, unique=True)):
        record[key] = draw(_VALUE)
    if draw(st.booleans()):
        record["response"] = draw(st.one_of(st.none(), st.just({"choices": []}),
                                            st.fixed_dictionaries({"usage": st.fixed_dictionaries(
                                                {"prompt_tokens": _VALUE})})))
    return record


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(_record(), min_size=1, max_size=12),
       st.lists(st.sampled_from([b"{not json\n", b"\n", b"   \n", b"[1]\n", b"\xff\xfe\n"]),
                max_size=3),
       st.integers(min_value=40, max_value=3000))
def test_worker_blocks_store_exactly_what_the_sequential_reader_reads(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, records: list[dict[str, Any]],
        junk: list[bytes], block_bytes: int) -> None:
    monkeypatch.setattr(_workers, "CHUNK_BYTES", block_bytes)
    lines = [json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in records]  # big ints
    for i, junk_line in enumerate(junk):
        lines.insert((7 * i) % (len(lines) + 1), junk_line)
    path = tmp_path / "t.jsonl"
    path.write_bytes(b"".join(lines))
    seq_stats, par_stats = ReadStats(), ReadStats()
    sequential = [call_features(batch) for batch in read_canonical_batches([str(path)],
                                                                          stats=seq_stats)]
    blocks = list(_workers._blocks(str(path)))
    parallel = []
    for first, block in blocks:
        payload, bad, seen = _workers.featurise_block(str(path), first, block)
        par_stats.rows += seen
        for line in bad:
            par_stats.add_bad(line)
        if payload is not None:
            parallel.append(pa.ipc.open_stream(payload).read_next_batch())
    assert (par_stats.rows, par_stats.bad) == (seq_stats.rows, seq_stats.bad)
    assert par_stats.bad_examples == seq_stats.bad_examples
    want = pa.Table.from_batches(sequential) if sequential else None
    got = pa.Table.from_batches(parallel) if parallel else None
    assert (want is None) == (got is None)
    if want is not None and got is not None:
        assert got.combine_chunks().equals(want.combine_chunks())


# -- loading an empty table: stage, then rename ----------------------------------------------------

def _stored(store: Store) -> pa.Table:
    return store.query_arrow("SELECT * FROM calls ORDER BY request_id")


def test_loading_an_empty_table_keeps_the_first_copy_of_a_repeated_id_like_the_merge(
        tmp_path: Path) -> None:
    first = [make_event(request_id=f"r{i}", user_text=f"first {i}") for i in range(6)]
    again = [make_event(request_id=f"r{i}", user_text=f"second {i}") for i in range(3, 9)]
    path_b, path_a = tmp_path / "b.jsonl", tmp_path / "a.jsonl"
    path_b.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in first))
    path_a.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in again + again[:2]))
    other = tmp_path / "other.jsonl"
    other.write_bytes(orjson.dumps(make_event(request_id="zz")) + b"\n")
    batches = [call_features(b) for b in read_canonical_batches([str(path_b), str(path_a)],
                                                               batch_size=4)]
    with Store(tmp_path / "fresh.duckdb") as fresh:
        for b in batches:
            fresh.stage(b)
        merged_fresh = fresh.merge_staged()
        got = _stored(fresh)
    with Store(tmp_path / "staged.duckdb") as staged:
        # one stored call makes the table non-empty, so this load goes through staging
        staged.stage(call_features(next(read_canonical_batches([str(other)]))))
        staged.merge_staged()
        for b in batches:
            staged.stage(b)
        merged_staged = staged.merge_staged()
        want = _stored(staged).filter(pc.not_equal(_stored(staged).column("request_id"), "zz"))
    assert got.equals(want)
    assert merged_fresh == merged_staged
    assert merged_fresh.added == 9 and merged_fresh.duplicates == 5
    # the copy from a.jsonl wins: the merge keeps the first by (source, line)
    texts = dict(zip(got.column("request_id").to_pylist(),
                     got.column("user_excerpt").to_pylist(), strict=True))
    assert texts["r3"] == "second 3" and texts["r0"] == "first 0"


def test_a_fresh_load_then_a_second_scan_merges_incrementally(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(b"".join(orjson.dumps(make_event(request_id=f"r{i}")) + b"\n"
                              for i in range(5)))
    with Store(tmp_path / "db.duckdb") as store:
        for _ in range(2):
            for b in read_canonical_batches([str(path)]):
                store.stage(call_features(b))
            result = store.merge_staged()
        assert (result.added, result.duplicates) == (0, 5)
        assert store.count_calls() == 5


# -- feature shortcuts ------------------------------------------------------------------------

def _collapse_reference(texts: list[str]) -> list[str]:
    """The two regexes ``_collapse`` stands for, run on every row."""
    out = pc.replace_substring_regex(pa.array(texts, pa.string()), r"\s+", " ")
    result: list[str] = pc.replace_substring_regex(out, r"[0-9]+", "0").to_pylist()
    return result


@given(st.lists(_SPACEY, max_size=20))
def test_collapse_equals_the_regexes_on_every_row(texts: list[str]) -> None:
    assert _collapse(pa.array(texts, pa.string())).to_pylist() == _collapse_reference(texts)


@given(st.lists(st.one_of(st.none(), _TEXT), max_size=20))
def test_arrow_hashes_equal_the_python_hashes(texts: list[str | None]) -> None:
    arrow = stable_hashes_arrow(pa.array(texts, pa.string())).to_pylist()
    assert arrow == stable_hashes(texts)


def test_re2_whitespace_class_is_what_the_collapse_shortcut_assumes() -> None:
    # \v is not whitespace for RE2, so a lone \v must survive both versions alike
    texts = ["a\x0bb", "a \x0b b", "a\u00a0b", "a\u2003 b"]
    assert _collapse(pa.array(texts)).to_pylist() == _collapse_reference(texts)
    assert re.sub(r"[\t\n\f\r ]+", " ", "a\x0bb") == "a\x0bb"


def test_steady_heap_applies_on_glibc_linux_and_is_harmless_elsewhere() -> None:
    import platform
    import sys

    applied = _workers.steady_heap()
    glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    assert applied is glibc
    big = bytearray(32 << 20)  # allocating and freeing a block after it still works
    big[-1] = 1
    assert sum(big[-2:]) == 1
