"""Simulator over the public corpora folder, and bad corpora input."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import orjson
import pytest

from distillwatch.errors import InputError
from distillwatch.ingest import validate_traffic_record
from distillwatch.sim import simulate

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason=f"corpora folder {DATA} is absent")


@pytest.mark.corpora
@needs_data
def test_corpora_run_validates_and_uses_real_replies(tmp_path: Path) -> None:
    s = simulate(tmp_path, accounts=50, days=2, seed=3, corpora=DATA)
    assert s.source == str(DATA.resolve()) and s.calls > 0
    with gzip.open(tmp_path / "traffic.jsonl.gz", "rb") as fh:
        recs = [orjson.loads(line) for line in fh]
    assert all(validate_traffic_record(r) is None for r in recs)
    text = b"".join(orjson.dumps(r["request"]) for r in recs)
    assert b"The following are multiple choice questions" in text or b"step by step" in text


@pytest.mark.corpora
@needs_data
def test_corpora_role_split_keeps_both_sides_of_each_kind() -> None:
    from distillwatch.sim._corpora import load_bank

    bank = load_bank(DATA)
    assert bank.math_benign and bank.math_harvest
    assert not set(bank.math_benign) & set(bank.math_harvest)
    assert bank.code_benign and bank.code_harvest
    assert bank.templates_benign and bank.templates_harvest
    assert any(reply for conv in bank.chats for _, reply in conv)
    assert {"mmlu_5shot", "bbh_cot", "gsm8k_test", "math500", "truthfulqa"} <= set(bank.eval_sets)


def test_missing_corpora_folder_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="corpora folder not found"):
        simulate(tmp_path / "out", accounts=5, days=1, corpora=tmp_path / "nope")


def test_missing_corpus_file_names_it(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    with pytest.raises(InputError) as err:
        simulate(tmp_path / "out", accounts=5, days=1, corpora=tmp_path / "data")
    assert "sharegpt" in str(err.value)


@pytest.mark.corpora
@needs_data
def test_malformed_corpus_line_names_file_and_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(DATA, data, ignore=shutil.ignore_patterns("t0_templated", "mmlu", "bbh"))
    bad = data / "gsm8k" / "train.jsonl"
    bad.chmod(0o644)
    bad.write_text('{"question": "ok", "answer": "1"}\n{not json\n', encoding="utf-8")
    with pytest.raises(InputError) as err:
        simulate(tmp_path / "out", accounts=5, days=1, corpora=data)
    assert err.value.path == str(bad.resolve()) and err.value.line == 2


def test_malformed_line_without_data(tmp_path: Path) -> None:
    from distillwatch.sim._corpora import _jsonl

    bad = tmp_path / "x.jsonl"
    bad.write_text('{"a": 1}\n[1, 2\n', encoding="utf-8")
    with pytest.raises(InputError) as err:
        _jsonl(bad)
    assert err.value.path == str(bad) and err.value.line == 2
