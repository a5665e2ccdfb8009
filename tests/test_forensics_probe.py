"""The probe and its case file: a golden evidence file from a scripted suspect, budgets, and
bad case folders."""

from __future__ import annotations

import itertools
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from distillwatch.errors import InputError
from distillwatch.forensics import (
    CASE_FORMAT,
    CanaryInjector,
    CanaryRegistry,
    KeyRing,
    ProbeConfig,
    SuspectClient,
    WordVocab,
    canary_slot,
    probe_case,
    render_evidence_html,
)

GOLDEN = Path(__file__).parent / "golden"
SECRET = bytes(range(32))
RING = KeyRing({1: SECRET}, 1)
WORDS = ["the", "cat", "sat", "on", "mat", "dog", "ran", "to", "a", "log", "and", "."]


def _clock(start: datetime) -> Any:
    ticks = itertools.count()
    return lambda: start + timedelta(milliseconds=250 * next(ticks))


def _make_case(folder: Path) -> Path:
    folder.mkdir()
    when = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    registry = CanaryRegistry(folder / "canaries.sqlite")
    inject = CanaryInjector(registry, RING, share=1.0, n_decoys=3, clock=lambda: when)
    for i in range(5):
        inject("acct_a", f"req_a{i}", "The cat sat on the mat.")
    inject("acct_b", "req_b0", "A dog ran to a log.")
    WordVocab(WORDS).save(folder / "vocab.json")
    (folder / "prompts.txt").write_text("the cat sat on\nthe dog ran to\na cat and a dog\n")
    (folder / "corroboration.jsonl").write_text(
        '{"prompt": "the cat", "ours": "sat on", "references": {"ref-1": "ran to"}}\n'
        '{"prompt": "the dog", "ours": "ran to", "references": {"ref-1": "sat on"}}\n')
    (folder / "case.json").write_bytes(orjson.dumps({
        "format": CASE_FORMAT, "case_id": "case-golden", "accounts": ["acct_a", "acct_b"],
        "canaries": {"registry": "canaries.sqlite"},
        "watermark": {"gamma": 0.25, "delta": 2.0, "context": 1, "vocab": "vocab.json",
                      "prompts": "prompts.txt", "max_tokens": 6, "mode_contexts": 3,
                      "mode_samples": 4},
        "corroboration": {"file": "corroboration.jsonl", "match_tokens": 2},
    }))
    return folder


def _scripted_suspect() -> Any:
    """Learned acct_a's served canaries; otherwise answers with fixed words."""
    learned = {}
    for slot in range(5):
        served, _ = canary_slot(RING.key("acct_a", "canary"), slot, 3)
        learned[served.prefix()] = f" {served.value}."
    cycle = itertools.count()

    def post(url: str, body: bytes) -> bytes:
        req = orjson.loads(body)
        prompt = req["prompt"]
        texts = [learned.get(prompt, " ".join(WORDS[(len(prompt) + next(cycle) + k) % 11]
                                              for k in range(3)))
                 for _ in range(req["n"])]
        return orjson.dumps({"choices": [{"index": i, "text": t} for i, t in enumerate(texts)]})

    return post


def _probe(folder: Path, budget: int | None = None) -> dict[str, Any]:
    start = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    client = SuspectClient("http://suspect.test/v1", "suspect-1", budget=budget,
                           transport=_scripted_suspect(), clock=_clock(start))
    return probe_case(folder, client, RING, ProbeConfig(alpha=0.05),
                      clock=_clock(start - timedelta(seconds=1)))


def _stable(evidence: dict[str, Any]) -> dict[str, Any]:
    """SQLite files embed the library version: their hash is not portable across machines."""
    files = {k: ("<sqlite file>" if k.endswith(".sqlite") else v)
             for k, v in evidence["case_files"].items()}
    return {**evidence, "case_files": files}


def test_evidence_case_file_matches_the_golden_files(tmp_path: Path) -> None:
    folder = _make_case(tmp_path / "case")
    evidence = _stable(_probe(folder))
    text = orjson.dumps(evidence, option=orjson.OPT_INDENT_2).decode() + "\n"
    html = render_evidence_html(evidence)
    if os.environ.get("DISTILLWATCH_UPDATE_GOLDEN"):
        (GOLDEN / "evidence.json").write_text(text, encoding="utf-8")
        (GOLDEN / "evidence.html").write_text(html, encoding="utf-8")
    assert text == (GOLDEN / "evidence.json").read_text(encoding="utf-8")
    assert html == (GOLDEN / "evidence.html").read_text(encoding="utf-8")


def test_evidence_names_the_leaking_account_and_keeps_custody(tmp_path: Path) -> None:
    folder = _make_case(tmp_path / "case")
    ev = _probe(folder)
    assert {f["account_id"]: f["named"] for f in ev["findings"]} == {"acct_a": True,
                                                                       "acct_b": False}
    canary = next(t for t in ev["tests"] if t["test"] == "canary_recall"
                  and t["account_id"] == "acct_a")
    assert canary["statistic"]["served_reproduced"] == 5
    assert canary["p_value"] == pytest.approx(0.25**5)
    assert all(t["null"] and 0 <= t["p_holm"] <= 1 and t["p_holm"] >= t["p_value"]
               for t in ev["tests"])
    transcript = (folder / "transcript.jsonl").read_bytes()
    import hashlib

    assert ev["transcript"]["sha256"] == hashlib.sha256(transcript).hexdigest()
    lines = [orjson.loads(x) for x in transcript.splitlines()]
    assert len(lines) == len(ev["exchanges"]) == ev["transcript"]["exchanges"]
    for line, ex in zip(lines, ev["exchanges"], strict=True):
        assert hashlib.sha256(line["probe"].encode()).hexdigest() == ex["probe_sha256"]
        assert hashlib.sha256(line["response"].encode()).hexdigest() == ex["response_sha256"]
    per_test = {(t["test"], t["account_id"]): t["queries"] for t in ev["tests"]}
    assert per_test[("canary_recall", "acct_a")] == 5 * 4
    assert per_test[("canary_recall", "acct_b")] == 1 * 4
    shared = ("corroboration", None), ("watermark_radioactivity", "acct_a"), \
        ("watermark_mode", "acct_a")
    assert 24 + sum(per_test[k] for k in shared) == ev["budget"]["spent"]
    html = (folder / "evidence.html").read_text()
    assert "http://" not in html.replace("http://suspect.test", "")
    assert "<script" not in html and "<link" not in html
    secrets_hex = {SECRET.hex(), RING.key("acct_a", "canary").key.hex(),
                   RING.key("acct_a", "watermark").key.hex()}
    for out in (html, (folder / "evidence.json").read_text()):
        assert not any(s in out for s in secrets_hex)


def test_the_budget_is_never_exceeded_and_incomplete_tests_say_so(tmp_path: Path) -> None:
    folder = _make_case(tmp_path / "case")
    ev = _probe(folder, budget=10)
    assert ev["budget"]["spent"] <= 10
    canary = [t for t in ev["tests"] if t["test"] == "canary_recall"]
    assert all(not t["complete"] for t in canary)
    assert any("budget" in n for t in canary for n in t["notes"])


def test_bad_case_folders_name_the_file_and_field(tmp_path: Path) -> None:
    folder = _make_case(tmp_path / "case")
    case = orjson.loads((folder / "case.json").read_bytes())
    case["watermark"]["vocab"] = "missing.json"
    (folder / "case.json").write_bytes(orjson.dumps(case))
    with pytest.raises(InputError, match=re.escape("case.json") + r".*watermark\.vocab"):
        _probe(folder)
    (folder / "case.json").write_text("{}")
    with pytest.raises(InputError, match="format"):
        _probe(folder)
    with pytest.raises(InputError, match=r"no case\.json"):
        _probe(tmp_path)


def test_a_wrong_secret_is_caught_before_any_query(tmp_path: Path) -> None:
    from distillwatch.errors import ConfigError

    folder = _make_case(tmp_path / "case")
    client = SuspectClient("http://x/v1", "m", transport=_scripted_suspect())
    with pytest.raises(ConfigError, match="wrong secret"):
        probe_case(folder, client, KeyRing({1: b"another secret 1234"}, 1))
    assert client.spent == 0


def test_forensics_help_guides_a_newcomer() -> None:
    from click.testing import CliRunner

    from distillwatch.cli import cli

    out = CliRunner().invoke(cli, ["--help"]).output
    assert "forensics" in out
    out = CliRunner().invoke(cli, ["forensics", "--help"]).output
    for word in ("keys", "probe"):
        assert word in out
    out = CliRunner().invoke(cli, ["forensics", "probe", "--help"]).output
    for option in ("--suspect", "--model", "--case", "--budget", "--rate", "--alpha"):
        assert option in out


def test_probe_without_a_secret_is_a_clear_error(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from distillwatch.cli import main

    monkeypatch.delenv("DISTILLWATCH_FORENSICS_SECRET", raising=False)
    monkeypatch.delenv("DISTILLWATCH_FORENSICS_SECRET_FILE", raising=False)
    folder = _make_case(tmp_path / "case")
    with pytest.raises(SystemExit) as exc:
        main(["forensics", "probe", "--suspect", "http://127.0.0.1:9", "--model", "m",
              "--case", str(folder)])
    assert exc.value.code == 2 and "no operator secret" in capsys.readouterr().err


def test_case_command_builds_a_case_probe_accepts(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from distillwatch.cli import cli

    src = _make_case(tmp_path / "src")
    runner = CliRunner()
    args = ["forensics", "case", str(tmp_path / "new"), "--account", "acct_a", "--account",
            "acct_b", "--registry", str(src / "canaries.sqlite"), "--vocab",
            str(src / "vocab.json"), "--prompts", str(src / "prompts.txt")]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "canaries, watermark" in result.output
    ev = _probe(tmp_path / "new")
    assert {t["test"] for t in ev["tests"]} == {"canary_recall", "watermark_radioactivity",
                                                 "watermark_mode"}
    again = runner.invoke(cli, args)
    assert again.exit_code != 0 and "not overwritten" in str(again.exception)
    only_vocab = runner.invoke(cli, ["forensics", "case", str(tmp_path / "x"), "--account", "a",
                                     "--vocab", str(src / "vocab.json")])
    assert only_vocab.exit_code != 0 and "--prompts" in str(only_vocab.exception)
