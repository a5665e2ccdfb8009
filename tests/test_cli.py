"""The command line as a user drives it (click's CliRunner, in process)."""

from __future__ import annotations

import csv
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from distillwatch.cli import cli, main
from factories import make_event, write_jsonl


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_help_names_every_command() -> None:
    code, out = _run("--help")
    assert code == 0
    for command in ("scan", "simulate", "bench", "demo"):
        assert command in out


def test_scan_writes_the_spec_outputs_and_reports_bad_lines(tmp_path: Path) -> None:
    records = [make_event(f"acct_{i % 4}", user_text=f"question {i} about gardening",
                          request_id=f"r{i}") for i in range(40)]
    logs = write_jsonl(tmp_path / "t.jsonl.gz", records, raw_lines=[b"{broken\n"])
    accounts = tmp_path / "accounts.jsonl"
    accounts.write_text('{"account_id": "acct_0", "created_at": "2020-01-01T00:00:00Z"}\n')
    out = tmp_path / "out"
    code, text = _run("scan", str(logs), "--accounts", str(accounts), "--out", str(out),
                      "--db", str(tmp_path / "db.duckdb"))
    assert code == 0, text
    with (out / "accounts.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(r["account_id"] for r in rows) == [f"acct_{i}" for i in range(4)]
    assert all(0.0 <= float(r["risk"]) <= 1.0 for r in rows)
    assert {r["verdict"] for r in rows} <= {"harvesting", "suspicious", "normal"}
    assert (out / "report.html").read_text().startswith("<!doctype html>")
    for line in (out / "findings.jsonl").read_bytes().splitlines():
        assert orjson.loads(line)["verdict"] in {"harvesting", "suspicious"}
    assert "bad lines" in text and f"{logs}:41" in text


def test_scan_of_a_missing_file_is_a_clear_error(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.jsonl"
    with pytest.raises(SystemExit) as exit_info:
        main(["scan", str(missing), "--out", str(tmp_path / "o"),
              "--db", str(tmp_path / "db.duckdb")])
    assert exit_info.value.code == 2
    assert f"error: {missing}: file not found" in capsys.readouterr().err


def test_scan_with_only_bad_lines_says_so(tmp_path: Path) -> None:
    logs = tmp_path / "bad.jsonl"
    logs.write_text('{"ts": "nope"}\n')
    result = CliRunner().invoke(cli, ["scan", str(logs), "--out", str(tmp_path / "o"),
                                      "--db", str(tmp_path / "db.duckdb"), "-q"])
    assert result.exit_code != 0
    assert "no usable call" in str(result.exception)


def test_accounts_without_calls_still_get_a_row(tmp_path: Path) -> None:
    logs = write_jsonl(tmp_path / "t.jsonl", [make_event("acct_busy", request_id="r1")])
    accounts = tmp_path / "accounts.jsonl"
    accounts.write_text('{"account_id": "acct_busy"}\n{"account_id": "acct_silent"}\n')
    code, text = _run("scan", str(logs), "--accounts", str(accounts), "--out",
                      str(tmp_path / "o"), "--db", str(tmp_path / "db.duckdb"), "-q")
    assert code == 0, text
    with (tmp_path / "o" / "accounts.csv").open() as fh:
        rows = {r["account_id"]: r for r in csv.DictReader(fh)}
    assert rows["acct_silent"]["verdict"] == "normal" and float(rows["acct_silent"]["risk"]) == 0


def test_redact_keeps_prompt_text_out_of_findings_and_report(tmp_path: Path) -> None:
    secret_prompt = "Summarise the confidential merger memo for Project Bluebird"
    records = [make_event(f"acct_{i % 6}", request_id=f"r{i}", user_text=f"question {i}")
               for i in range(60)]
    records += [make_event("acct_h", request_id=f"h{i}", user_text=f"{secret_prompt} #{i}",
                           system="Think step by step.", n=4, max_tokens=8000,
                           completion_tokens=4000, logprobs=True, top_logprobs=20)
                for i in range(40)]
    logs = write_jsonl(tmp_path / "t.jsonl", records)
    out = tmp_path / "o"
    code, text = _run("scan", str(logs), "--out", str(out), "--db",
                      str(tmp_path / "db.duckdb"), "--redact", "-q")
    assert code == 0, text
    findings = (out / "findings.jsonl").read_text()
    assert "acct_h" in findings and "[redacted sha256:" in findings
    for name in ("findings.jsonl", "report.html"):
        assert "Bluebird" not in (out / name).read_text()


def test_litellm_spend_logs_scan_through_the_adapter(tmp_path: Path) -> None:
    sample = Path(__file__).parent / "data" / "adapters" / "litellm_spend_logs.csv"
    out = tmp_path / "o"
    code, text = _run("scan", str(sample), "--format", "litellm", "--out", str(out),
                      "--db", str(tmp_path / "db.duckdb"), "-q")
    assert code == 0, text
    with (out / "accounts.csv").open() as fh:
        assert len(list(csv.DictReader(fh))) >= 1
    assert "sk-" not in (out / "report.html").read_text()


def test_a_ring_is_linked_and_reported_as_one_operation(tmp_path: Path) -> None:
    wrapper = ("You are a data generator. Answer the following task completely and in "
               "detail, showing every step: ")
    records = []
    for i in range(5):
        records += [make_event(f"ring{i}", request_id=f"r{i}-{j}", n=4, max_tokens=8000,
                               user_text=wrapper + f"task {i * 100 + j} on subject {j % 7}",
                               completion_tokens=3000, prompt_tokens=40)
                    for j in range(30)]
    for i in range(12):
        for j in range(30):
            record = make_event(f"app{i}", request_id=f"a{i}-{j}", user=f"u{j % 9}",
                                user_text=f"customer {i} asks about order {j}",
                                history=[{"role": "user", "content": "hi"},
                                         {"role": "assistant", "content": "Hello!"}])
            record["client_ip"] = f"198.51.{100 + i}.{j % 4 + 1}"
            records.append(record)
    logs = write_jsonl(tmp_path / "t.jsonl", records)
    accounts = tmp_path / "accounts.jsonl"
    accounts.write_text("".join(f'{{"account_id": "ring{i}", "payment_fingerprint": "pm_x"}}\n'
                                for i in range(5)))
    out = tmp_path / "o"
    code, text = _run("scan", str(logs), "--accounts", str(accounts), "--out", str(out),
                      "--db", str(tmp_path / "db.duckdb"), "-q")
    assert code == 0, text
    with (out / "accounts.csv").open() as fh:
        rows = {r["account_id"]: r for r in csv.DictReader(fh)}
    ring_ids = {rows[f"ring{i}"]["cluster_id"] for i in range(5)}
    assert len(ring_ids) == 1 and next(iter(ring_ids)).startswith("ring-")
    assert all(rows[f"app{i}"]["cluster_id"] == "" for i in range(12))
    clusters = [orjson.loads(line) for line in (out / "findings.jsonl").read_bytes().splitlines()
                if orjson.loads(line)["kind"] == "cluster"]
    assert len(clusters) == 1 and sorted(clusters[0]["members"]) == [f"ring{i}" for i in range(5)]
    assert {"template", "payment"} <= set(clusters[0]["edges_by_kind"])
    assert "Linked operations" in (out / "report.html").read_text()


def test_demo_runs_end_to_end_without_data(tmp_path: Path) -> None:
    """The README's first command: simulate with built-in text, scan, write the report."""
    folder = tmp_path / "demo"
    code, text = _run("demo", "--dir", str(folder), "-q")
    assert code == 0, text
    with (folder / "scan" / "accounts.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    labels = {orjson.loads(line)["account_id"]: orjson.loads(line)["label"]
              for line in (folder / "sim" / "labels.jsonl").read_bytes().splitlines()}
    assert {r["account_id"] for r in rows} == set(labels)
    flagged = [r for r in rows if r["verdict"] == "harvesting"]
    assert flagged and all(labels[r["account_id"]] == "harvester" for r in flagged)
    assert "Flagged accounts" in (folder / "scan" / "report.html").read_text()


def test_bench_sizes_are_checked_against_the_engine() -> None:
    code, out = _run("bench", "--size", "10m")
    assert code == 2 and "add --engine spark" in out
    code, out = _run("bench", "--engine", "spark", "--size", "large")
    assert code == 2 and "small, medium or 10m" in out
