"""The output comparison the engine benchmark and the Spark parity tests rely on."""

from __future__ import annotations

from pathlib import Path

from distillwatch.bench import output_differences, value_differences


def _write(folder: Path, risk: str, verdict: str, finding: bytes) -> Path:
    folder.mkdir()
    (folder / "accounts.csv").write_text(
        "account_id,risk,verdict,cluster_id,top_reasons\n"
        f"a1,{risk},{verdict},ring-1,HIGH_VOLUME\n")
    (folder / "findings.jsonl").write_bytes(finding + b"\n")
    return folder


def test_equal_outputs_have_no_differences(tmp_path: Path) -> None:
    a = _write(tmp_path / "a", "0.900000", "harvesting", b'{"risk": 0.9000000000001}')
    b = _write(tmp_path / "b", "0.900000", "harvesting", b'{"risk": 0.9}')
    assert output_differences(a, b) == []


def test_a_verdict_or_a_risk_beyond_tolerance_is_named(tmp_path: Path) -> None:
    a = _write(tmp_path / "a", "0.900000", "harvesting", b'{"risk": 0.9}')
    b = _write(tmp_path / "b", "0.900000", "suspicious", b'{"risk": 0.91}')
    diffs = output_differences(a, b)
    assert any("verdict" in d for d in diffs) and any("/risk" in d for d in diffs)


def test_nan_equals_nan_and_shapes_must_match() -> None:
    assert value_differences([float("nan")], [float("nan")]) == []
    assert value_differences({"a": 1}, {"b": 1}) == [": keys differ"]
    assert value_differences([1, 2], [1]) == [": lengths differ"]
    assert value_differences(1.0, None, "x") == ["x: 1.0 != None"]
