"""Ingest: validation, streaming reads, bad lines, idempotent and incremental storage."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from distillwatch.errors import InputError
from distillwatch.features import call_features
from distillwatch.ingest import (
    ReadStats,
    Store,
    canonical_row,
    expand_inputs,
    read_accounts,
    read_canonical_batches,
    validate_traffic_record,
)
from factories import make_event, write_jsonl


def _ingest(store: Store, paths: list[str], **kw: object) -> ReadStats:
    stats = ReadStats()
    for batch in read_canonical_batches(paths, stats=stats, **kw):  # type: ignore[arg-type]
        store.stage(call_features(batch))
    store.merge_staged()
    return stats


def test_valid_record_passes_and_each_required_field_is_named() -> None:
    record = make_event()
    assert validate_traffic_record(record) is None
    for field in ("ts", "request_id", "account_id", "endpoint", "status", "request", "response"):
        broken = dict(record)
        del broken[field]
        assert validate_traffic_record(broken)[0] == field  # type: ignore[index]


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"ts": "2026-09-01 10:00:00"}, "ts"),
        ({"ts": "2026-09-01T10:00:00"}, "ts"),  # no offset
        ({"status": "200"}, "status"),
        ({"status": True}, "status"),
        ({"status": 2**70}, "status"),
        ({"account_id": ""}, "account_id"),
        ({"request": []}, "request"),
        ({"response": "ok"}, "response"),
        ({"latency_ms": "fast"}, "latency_ms"),
    ],
)
def test_invalid_fields_are_named(patch: dict[str, object], field: str) -> None:
    record = {**make_event(), **patch}
    problem = validate_traffic_record(record)
    assert problem is not None and problem[0] == field


def test_timestamps_with_offsets_are_normalised_to_utc() -> None:
    row = canonical_row({**make_event(), "ts": "2026-09-01T12:00:00+02:00"})
    assert row[2].isoformat() == "2026-09-01T10:00:00+00:00"


def test_content_parts_and_string_content_are_both_read() -> None:
    parts = make_event(user_text="unused")
    parts["request"]["messages"][-1]["content"] = [
        {"type": "text", "text": "first part"}, {"type": "image_url", "image_url": {}},
        {"type": "text", "text": "second part"}]
    row = canonical_row(parts)
    assert "first part" in row[-3] and "second part" in row[-3]  # user_text


def test_bad_lines_are_counted_with_file_line_and_field(tmp_path: Path) -> None:
    good = [make_event(request_id=f"r{i}") for i in range(5)]
    bad_ts = {**make_event(request_id="rbad"), "ts": "yesterday"}
    path = write_jsonl(tmp_path / "t.jsonl", [*good[:2], bad_ts, *good[2:]],
                       raw_lines=[b"{not json\n", b"[1, 2]\n", b"\n"])
    with Store(tmp_path / "db.duckdb") as store:
        stats = _ingest(store, [str(path)])
        assert store.count_calls() == 5  # the good lines around the bad ones are kept
    assert stats.good == 5 and stats.bad == 3
    lines = {(b.line, b.field) for b in stats.bad_examples}
    assert lines == {(3, "ts"), (7, "<line>"), (8, "<line>")}
    assert all(b.path == str(path) for b in stats.bad_examples)


def test_strict_mode_fails_at_the_first_bad_line_but_keeps_what_came_before(
        tmp_path: Path) -> None:
    good = [make_event(request_id=f"r{i}") for i in range(3)]
    path = write_jsonl(tmp_path / "t.jsonl", good, raw_lines=[b'{"ts": 1}\n'])
    with Store(tmp_path / "db.duckdb") as store:
        with pytest.raises(InputError) as err:
            _ingest(store, [str(path)], strict=True)
        store.merge_staged()
        assert store.count_calls() == 3
    assert f"{path}:4" in str(err.value) and "'ts'" in str(err.value)


def test_rescanning_overlapping_logs_counts_nothing_twice(tmp_path: Path) -> None:
    first = [make_event(request_id=f"r{i}") for i in range(10)]
    second = first[5:] + [make_event(request_id=f"n{i}") for i in range(4)]
    p1 = write_jsonl(tmp_path / "a.jsonl.gz", first)
    p2 = write_jsonl(tmp_path / "b.jsonl", second + second[:2])  # repeats inside one file too
    db = tmp_path / "db.duckdb"
    with Store(db) as store:
        _ingest(store, [str(p1)])
        assert store.count_calls() == 10
    with Store(db) as store:  # a later run adds to what is there
        _ingest(store, [str(p2)])
        assert store.count_calls() == 14
        _ingest(store, [str(p1), str(p2)])
        assert store.count_calls() == 14


def test_globs_folders_and_missing_files(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "a.jsonl", [make_event()])
    write_jsonl(tmp_path / "b.jsonl.gz", [make_event()])
    assert len(expand_inputs([str(tmp_path / "*.jsonl*")])) == 2
    assert len(expand_inputs([str(tmp_path)])) == 2
    with pytest.raises(InputError, match="file not found"):
        expand_inputs([str(tmp_path / "missing.jsonl")])
    with pytest.raises(InputError, match="no file matches"):
        expand_inputs([str(tmp_path / "*.parquet")])


def test_stdin_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    data = b"".join(orjson.dumps(make_event()) + b"\n" for _ in range(3))

    class FakeStdin:
        buffer = io.BytesIO(data)

    monkeypatch.setattr("sys.stdin", FakeStdin)
    stats = ReadStats()
    rows = sum(b.num_rows for b in read_canonical_batches(["-"], stats=stats))
    assert rows == 3 and stats.bad == 0


def test_raw_secrets_never_reach_the_store(tmp_path: Path) -> None:
    secret = "sk-proj-" + "A1b2C3d4" * 5
    record = make_event(user_text=f"my key is {secret} please debug")
    record["key_id"] = secret
    path = write_jsonl(tmp_path / "t.jsonl", [record])
    with Store(tmp_path / "db.duckdb") as store:
        _ingest(store, [str(path)])
        dump = json.dumps(store.query_arrow("SELECT * FROM calls").to_pylist(), default=str)
    assert secret not in dump
    assert "sha256:" in dump


def test_accounts_file_bad_lines_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "accounts.jsonl"
    path.write_text('{"account_id": "a", "created_at": "2026-01-01T00:00:00Z"}\n'
                    '{"account_id": "b", "created_at": "soon"}\n'
                    '{"account_id": "c", "allowlisted": true}\n')
    bad: list[InputError] = []
    table = read_accounts(str(path), bad=bad)
    assert table.column("account_id").to_pylist() == ["a", "c"]
    assert len(bad) == 1 and bad[0].line == 2 and bad[0].field == "created_at"


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                 max_size=3),
    max_leaves=8,
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    junk=st.lists(st.one_of(st.binary(max_size=40),
                            _json_values.map(lambda v: json.dumps(v).encode())),
                  min_size=1, max_size=6),
    mutations=st.dictionaries(
        st.sampled_from(["ts", "request_id", "account_id", "status", "request", "response",
                         "endpoint", "latency_ms", "client_ip"]),
        _json_values, max_size=3),
)
def test_malformed_input_never_stops_the_read_nor_loses_good_lines(
        tmp_path: Path, junk: list[bytes], mutations: dict[str, object]) -> None:
    good = [make_event(request_id=f"g{i}") for i in range(3)]
    mutated = {**make_event(request_id="m"), **mutations}
    lines = [orjson.dumps(good[0]) + b"\n"]
    lines += [j.replace(b"\n", b" ") + b"\n" for j in junk]
    lines += [json.dumps(mutated).encode() + b"\n", orjson.dumps(good[1]) + b"\n",
              orjson.dumps(good[2]) + b"\n"]
    path = tmp_path / "fuzz.jsonl"
    path.write_bytes(b"".join(lines))
    stats = ReadStats()
    ids = [rid for b in read_canonical_batches([str(path)], stats=stats)
           for rid in b.column("request_id").to_pylist()]
    assert {"g0", "g1", "g2"} <= set(ids)
    blank = sum(1 for line in lines if not line.strip())
    assert stats.good + stats.bad == len(lines) - blank  # every non-blank line is accounted for
    assert len(ids) == stats.good


def test_parallel_workers_store_exactly_what_the_sequential_path_stores(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from distillwatch import _workers
    from distillwatch.scan import ScanOptions, ScanSummary, ingest

    monkeypatch.setattr(_workers, "CHUNK_BYTES", 1500)  # many blocks, bad lines across borders
    records = [make_event(f"acct_{i % 3}", request_id=f"r{i}", user_text=f"q {i} step by step")
               for i in range(40)]
    lines = [orjson.dumps(r) + b"\n" for r in records]
    lines[5] = b"{not json\n"
    lines[16] = b"\n"
    lines[23] = orjson.dumps({**records[23], "status": "ok"}) + b"\n"
    path = tmp_path / "t.jsonl.gz"
    path.write_bytes(gzip.compress(b"".join(lines)))
    tables = []
    summaries = []
    for workers in (1, 2):
        summary = ScanSummary()
        with Store(tmp_path / f"db{workers}.duckdb") as store:
            ingest(store, [str(path)], ScanOptions(out=tmp_path, workers=workers), summary)
            tables.append(store.query_arrow("SELECT * FROM calls ORDER BY request_id"))
        summaries.append(summary)
    assert tables[0].num_rows == 37 and tables[0].equals(tables[1])
    for s in summaries:
        assert (s.read.rows, s.read.good, s.read.bad) == (39, 37, 2)
    assert [(b.line, b.field) for b in summaries[1].read.bad_examples] == [(6, "<line>"),
                                                                            (24, "status")]


def test_zstd_logs_read_like_gzip_ones_in_both_engines(tmp_path: Path) -> None:
    """``.jsonl.zst`` (several frames, as rotated logs are appended) reads line for line as
    ``.jsonl.gz`` does: in the embedded scan and in the function Spark's workers map."""
    import pyarrow as pa
    import zstandard

    from distillwatch.engine._mapper import _featurise_file
    from distillwatch.scan import ScanOptions, ScanSummary, ingest

    lines = [orjson.dumps(make_event(f"acct_{i % 3}", request_id=f"z{i}")) + b"\n"
             for i in range(30)]
    lines[7] = b"{not json\n"
    data = b"".join(lines)
    gz = tmp_path / "t.jsonl.gz"
    gz.write_bytes(gzip.compress(data))
    zst = tmp_path / "t.jsonl.zst"
    zc = zstandard.ZstdCompressor()
    zst.write_bytes(zc.compress(data[:4000]) + zc.compress(data[4000:]))  # two frames
    tables, summaries = [], []
    for path in (gz, zst):
        summary = ScanSummary()
        with Store(tmp_path / f"{path.suffix}.duckdb") as store:
            ingest(store, [str(path)], ScanOptions(out=tmp_path), summary)
            tables.append(store.query_arrow("SELECT * FROM calls ORDER BY request_id"))
        summaries.append(summary)
    differ = [c for c in tables[0].column_names if tables[0][c] != tables[1][c]]
    assert tables[0].num_rows == 29 and differ == ["source"]  # the file each row came from
    assert [(b.line, b.field) for b in summaries[1].read.bad_examples] == [(8, "<line>")]
    mapped = [pa.Table.from_batches(list(_featurise_file(str(p), p.read_bytes())))
              for p in (gz, zst)]
    differ = [c for c in mapped[0].column_names if mapped[0][c] != mapped[1][c]]
    assert mapped[0].num_rows == 30 and differ == ["source"]
