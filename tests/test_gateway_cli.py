"""`distillwatch gateway` as a process: start, serve, SIGTERM flushes the log; the log it
writes is read by `distillwatch scan`; the scorer builder restores saved state."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from click.testing import CliRunner

import distillwatch.detect
from distillwatch.cli import cli, main
from distillwatch.cli._gateway import build_online_detector
from distillwatch.gateway import hash_key
from distillwatch.ingest import validate_traffic_record
from gwkit import KEYS, CountingScorer, auth, free_port, read_log, running_mock, write_keys

SRC = str(Path(__file__).resolve().parents[1] / "src")


def test_help_reads_well() -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["gateway", "--help"])
    assert result.exit_code == 0
    for word in ("--upstream", "--keys", "--log", "--config", "--state", "mock-upstream",
                 "hash-key", "/healthz"):
        assert word in result.output
    assert "gateway" in runner.invoke(cli, ["--help"]).output
    assert runner.invoke(cli, ["gateway", "mock-upstream", "--help"]).exit_code == 0


def test_hash_key_prints_a_keys_file_line() -> None:
    result = CliRunner().invoke(cli, ["gateway", "hash-key", "--account", "acme"],
                                input="sk-live-123\n")
    assert result.exit_code == 0
    line = orjson.loads(result.output)
    assert line == {"account_id": "acme", "key_sha256": hash_key("sk-live-123")}


def test_missing_log_dir_or_upstream_is_a_config_error(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    with pytest.raises(SystemExit) as info:
        main(["gateway", "--upstream", "http://127.0.0.1:9", "--no-scoring"])
    assert info.value.code == 2 and "--log DIR is required" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["gateway", "--log", str(tmp_path), "--no-scoring"])
    assert "upstream.url" in capsys.readouterr().err


class FakeOnline(CountingScorer):
    """Stands in for OnlineDetector's constructor shape: ``OnlineDetector(accounts)``."""

    def __init__(self, accounts: Any = None, **params: Any) -> None:
        super().__init__(**{"ramp": 10, **params})
        self.accounts = accounts


def test_scorer_builder_creates_then_restores(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(distillwatch.detect, "OnlineDetector", FakeOnline, raising=False)
    state = tmp_path / "scorer.state"
    scorer, restored = build_online_detector(tmp_path / "accounts.jsonl", state)
    assert not restored and scorer.accounts == tmp_path / "accounts.jsonl"
    scorer.calls = {"acct_a": 5}
    scorer.save(state)
    again, restored = build_online_detector(None, state)
    assert restored and again.calls == {"acct_a": 5}


def _start(args: list[str], tmp_path: Path, **env_extra: str
           ) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": SRC, **env_extra}
    log = tmp_path / "gateway.stderr"
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from distillwatch.cli import main; main()", "gateway",
             "--port", str(port), *args], env=env, stdout=subprocess.DEVNULL, stderr=err)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(url + "/healthz", timeout=0.5).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise AssertionError(log.read_text())
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("gateway did not start")


@pytest.mark.slow
def test_sigterm_flushes_every_record_and_scan_reads_them(tmp_path: Path) -> None:
    keys = write_keys(tmp_path / "keys.jsonl")
    config = tmp_path / "gw.toml"
    config.write_text('[log]\nflush_interval = 60.0\ngzip = true\n')  # only shutdown flushes
    with running_mock() as (mock, _):
        proc, url = _start(["--upstream", mock.url, "--keys", str(keys), "--log",
                            str(tmp_path / "log"), "--config", str(config), "--no-scoring"],
                           tmp_path)
        try:
            with httpx.Client(timeout=10) as client:
                for i in range(30):
                    account = list(KEYS)[i % 4]
                    body = {"model": "mock", "stream": i % 3 == 0,
                            "messages": [{"role": "user", "content": f"question {i}"}]}
                    assert client.post(url + "/v1/chat/completions", json=body,
                                       headers=auth(account)).status_code == 200
            # nothing written yet (60 s flush interval): only the shutdown can flush them
            assert list((tmp_path / "log").glob("traffic-*")) == []
        finally:
            proc.send_signal(signal.SIGTERM)
            # uvicorn re-raises SIGTERM after its graceful shutdown
            assert proc.wait(timeout=30) in (0, -signal.SIGTERM)
    records = read_log(tmp_path / "log")
    assert len(records) == 30
    assert all(validate_traffic_record(r) is None for r in records)
    assert all(p.name.endswith(".jsonl.gz") for p in (tmp_path / "log").glob("traffic-*"))
    out = tmp_path / "scan"
    main(["scan", str(tmp_path / "log"), "--out", str(out), "--db", str(tmp_path / "s.duckdb"),
          "--strict", "-q"])
    rows = (out / "accounts.csv").read_text().splitlines()
    assert rows[0].startswith("account_id,risk,verdict")
    assert {r.split(",")[0] for r in rows[1:]} == set(KEYS)


@pytest.mark.slow
def test_kill_9_loses_at_most_the_last_flush_interval(tmp_path: Path) -> None:
    keys = write_keys(tmp_path / "keys.jsonl")
    config = tmp_path / "gw.yaml"
    config.write_text("log:\n  flush_interval: 0.2\n  gzip: true\n")
    with running_mock() as (mock, _):
        proc, url = _start(["--upstream", mock.url, "--keys", str(keys), "--log",
                            str(tmp_path / "log"), "--config", str(config), "--no-scoring"],
                           tmp_path)
        try:
            with httpx.Client(timeout=10) as client:
                for i in range(20):
                    body = {"model": "mock", "stream": i % 2 == 0,
                            "messages": [{"role": "user", "content": f"q{i}"}]}
                    assert client.post(url + "/v1/chat/completions", json=body,
                                       headers=auth()).status_code == 200
            time.sleep(0.8)  # several flush intervals after the last call
        finally:
            proc.kill()  # SIGKILL: no shutdown, no final flush
            proc.wait(timeout=10)
    records = read_log(tmp_path / "log")  # gzip members written so far read back whole
    assert len(records) == 20
    assert all(validate_traffic_record(r) is None for r in records)


def _gone(pid: int) -> bool:
    """True once ``pid`` has exited (a zombie nobody reaped counts as exited)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


@pytest.mark.slow
def test_the_scorer_process_outlives_a_killed_gateway_just_long_enough_to_save(
        tmp_path: Path) -> None:
    """`distillwatch gateway` scores in a scorer process; kill -9 the gateway: the scorer sees
    its input end, saves the detector's state and exits; the next gateway restores it."""
    keys = write_keys(tmp_path / "keys.jsonl")
    state = tmp_path / "state"
    token = "cli-admin-token"
    args = ["--keys", str(keys), "--log", str(tmp_path / "log"), "--state", str(state)]
    with running_mock() as (mock, _):
        proc, url = _start(["--upstream", mock.url, *args], tmp_path,
                           DISTILLWATCH_ADMIN_TOKEN=token)
        headers = {"Authorization": f"Bearer {token}"}
        try:
            with httpx.Client(timeout=10) as client:
                for i in range(12):
                    assert client.post(url + "/v1/chat/completions", headers=auth(), json={
                        "model": "mock", "messages": [{"role": "user", "content": f"q{i}"}],
                    }).status_code == 200
                deadline = time.monotonic() + 30
                while (health := client.get(url + "/admin/health", headers=headers).json()
                       )["scoring"]["observed"] < 12 and time.monotonic() < deadline:
                    time.sleep(0.05)
            process = health["scoring"]["process"]
            assert process["up"] and process["scorer"] == "OnlineDetector"
            scorer_pid = process["pid"]
            assert scorer_pid != proc.pid and not (state / "scorer.state").exists()
            time.sleep(1.5)  # past the log's flush interval: the kill costs no record
        finally:
            proc.kill()
            proc.wait(timeout=10)
        deadline = time.monotonic() + 60
        while not _gone(scorer_pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _gone(scorer_pid) and (state / "scorer.state").exists()

        proc, url = _start(["--upstream", mock.url, *args], tmp_path,
                           DISTILLWATCH_ADMIN_TOKEN=token)
        try:
            view = httpx.get(url + "/admin/accounts/acct_a", headers=headers, timeout=10).json()
            health = httpx.get(url + "/admin/health", headers=headers, timeout=10).json()
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) in (0, -signal.SIGTERM)
    assert health["scoring"]["process"]["restored"] and view["scored_calls"] == 12
    assert len(read_log(tmp_path / "log")) == 12
