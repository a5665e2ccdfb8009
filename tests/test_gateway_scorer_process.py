"""The scorer in a process of its own (real gateway, mock upstream and scorer process on
loopback): the shipped detector walks a harvester up the ladder through it, canaries still
reach degraded accounts, and the proxy survives the scorer dying, stalling and restarting,
with every call in the traffic log and every unscored call counted."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from distillwatch.act import Ladder
from distillwatch.detect import LiveRisk
from distillwatch.gateway._scorer_child import RISK_STEP, Publisher
from distillwatch.gateway._wire import FrameBuffer, Kind, encode_frame
from gwkit import (
    CountingScorer,
    ServerThread,
    admin,
    auth,
    process_gateway,
    read_log,
    running_mock,
    wait_for,
    wait_scored,
)

LADDER = {"thresholds": {"alert": 0.15, "throttle": 0.34, "degrade": 0.6, "block": 0.9}}
STEPS = {"throttle": {"requests": None, "tokens": None},
         "degrade": {"requests": None, "tokens": None, "max_tokens_cap": 64, "canary": True}}
SMALL_DETECTOR = {"online": {"bloom_bits_log2": 22, "countmin_width_log2": 14}}
ONLINE = "distillwatch.gateway._scorer_child:online_detector"


@pytest.fixture(scope="module")
def mock() -> Iterator[tuple[ServerThread, Any]]:
    with running_mock() as pair:
        yield pair


def _chat(url: str, account: str, body: Any = None) -> httpx.Response:
    body = body or {"model": "mock", "messages": [{"role": "user", "content": "hi"}]}
    return httpx.post(url + "/v1/chat/completions", json=body, headers=auth(account),
                      timeout=10)


def _harvest(i: int) -> dict[str, Any]:
    return {"model": "mock:chunks=400,reasoning=1", "max_tokens": 8000,
            "reasoning_effort": "high", "top_logprobs": 20, "logprobs": True,
            "messages": [{"role": "user", "content":
                          f"Problem {i}: integrate x^{i}. Think step by step."}]}


def _shop(i: int) -> dict[str, Any]:
    return {"model": "mock:chunks=20", "user": f"u{i % 9}", "messages": [
        {"role": "system", "content": "You are ShopBot."},
        {"role": "user", "content": f"where is order {i % 12}?"}]}


def _health(url: str) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(url + "/admin/health", headers=admin(),
                                     timeout=10).json()
    return body


def _metric(url: str, name: str) -> float:
    text = httpx.get(url + "/admin/metrics", headers=admin(), timeout=10).text
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in metrics")


def _niceness(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


@pytest.mark.slow
def test_the_real_online_detector_scores_in_a_scorer_process(mock: Any, tmp_path: Path
                                                             ) -> None:
    """The shipped detector behind the gateway, out of its process: a harvest-shaped stream
    climbs the ladder while a chat app's stays at observe, and every call was scored."""
    with process_gateway(mock[0].url, tmp_path, factory=ONLINE,
                         options=SMALL_DETECTOR) as (server, app):
        assert app.state.process is not None and app.state.process.alive
        assert app.state.process.pid != os.getpid()
        for i in range(150):
            _chat(server.url, "acct_a", _harvest(i))
            _chat(server.url, "acct_b", _shop(i))
        wait_scored(app, 300)
        harvester = httpx.get(server.url + "/admin/accounts/acct_a", headers=admin()).json()
        shop = httpx.get(server.url + "/admin/accounts/acct_b", headers=admin()).json()
        health = _health(server.url)["scoring"]
        server.stop()
    assert health["observed"] == 300 and health["unscored"] == 0
    assert health["process"]["rejected"] == 0 and health["process"]["scorer"] == "OnlineDetector"
    assert harvester["risk"] > shop["risk"] and shop["risk"] < 0.34
    assert harvester["action"] != "observe" and shop["action"] == "observe"
    records = read_log(tmp_path / "log")
    climbed = [r["gateway"]["action"] for r in records if r["account_id"] == "acct_a"]
    assert climbed[0] == "observe" and climbed[-1] != "observe"
    assert {r["gateway"]["action"] for r in records if r["account_id"] == "acct_b"} == {
        "observe"}
    alerts = [orjson.loads(line) for line in
              (tmp_path / "log/events/alerts.jsonl").read_bytes().splitlines()]
    assert alerts and {a["account_id"] for a in alerts} == {"acct_a"}


def test_canaries_reach_degraded_accounts_through_a_scorer_process(mock: Any, tmp_path: Path
                                                                   ) -> None:
    """The forensics canary on the degrade step, with the risk coming from the process."""
    from distillwatch.forensics import CanaryInjector, CanaryRegistry, KeyRing

    registry = CanaryRegistry(tmp_path / "canaries.sqlite")
    inject = CanaryInjector(registry, KeyRing({1: bytes(range(32))}, 1), share=1.0,
                            placement="append")
    with process_gateway(mock[0].url, tmp_path, options={"boost": {"acct_a": 0.7}},
                         canary=inject, ladder=LADDER, steps=STEPS,
                         scoring={"process_idle": True}) as (server, app):
        pid = app.state.process.pid if app.state.process else None
        assert pid is not None and _niceness(pid) == min(19, os.nice(0) + 10)  # yields
        if hasattr(os, "SCHED_IDLE"):  # and never preempts the proxy on a shared core
            assert os.sched_getscheduler(pid) == os.SCHED_IDLE
        _chat(server.url, "acct_b")
        wait_scored(app, 1)
        flagged = _chat(server.url, "acct_a")  # first call: not yet scored, boost is prior
        wait_scored(app, 2)
        flagged = _chat(server.url, "acct_a")
        honest = _chat(server.url, "acct_b")
        server.stop()
    assert flagged.status_code == 200 and honest.status_code == 200
    assert len(registry.served("acct_a")) == 1 and registry.served("acct_b") == []
    served = [r for r in read_log(tmp_path / "log") if r["account_id"] == "acct_a"]
    assert served[-1]["gateway"]["action"] == "degrade"
    assert "response.canary" in served[-1]["gateway"]["changes"]
    assert flagged.json()["choices"][0]["message"]["content"] != \
        honest.json()["choices"][0]["message"]["content"]


def test_a_dead_scorer_is_restarted_from_its_snapshot_and_the_proxy_never_stops(
        mock: Any, tmp_path: Path) -> None:
    state = tmp_path / "state"
    with process_gateway(mock[0].url, tmp_path, options={"ramp": 100}, ladder=LADDER,
                         state_dir=str(state),
                         scoring={"checkpoint_seconds": 0.2}) as (server, app):
        proc = app.state.process
        assert proc is not None
        for _ in range(10):
            assert _chat(server.url, "acct_a").status_code == 200
        wait_scored(app, 10)
        saves = proc.checkpoints
        wait_for(lambda: proc.checkpoints > saves)  # a snapshot taken after the 10th call
        assert CountingScorer.load(state / "scorer.state").calls["acct_a"] == 10
        first = proc.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        wait_for(lambda: not proc.alive)
        assert _metric(server.url, "distillwatch_gateway_scorer_process_up") == 0
        # the proxy serves while the scorer is down and while it comes back
        assert all(_chat(server.url, "acct_a").status_code == 200 for _ in range(5))
        wait_for(lambda: proc.alive and proc.pid != first)
        health = _health(server.url)["scoring"]["process"]
        assert health["restarts"] == 1 and health["restored"] and health["up"]
        assert health["last_exit"] == -signal.SIGKILL
        assert _metric(server.url, "distillwatch_gateway_scorer_process_restarts_total") == 1
        view = httpx.get(server.url + "/admin/accounts/acct_a", headers=admin()).json()
        assert view["scored_calls"] >= 10  # restored from the snapshot, then scored on
        wait_for(lambda: proc.observed + proc.unscored == proc.submitted)
        assert _chat(server.url, "acct_a").status_code == 200
        server.stop()
    records = read_log(tmp_path / "log")
    assert len(records) == 16 and {r["status"] for r in records} == {200}
    assert proc.observed + proc.unscored == 16
    # the clean stop saved what the restarted scorer learned
    assert CountingScorer.load(state / "scorer.state").calls["acct_a"] == proc.observed


def test_a_stalled_scorer_never_holds_the_proxy_back(mock: Any, tmp_path: Path) -> None:
    """SIGSTOP the scorer: calls keep being answered at once, the bounded queue overflows into
    the unscored count, the log has every call; a stall past stall_seconds is killed and the
    scorer restarted."""
    big = {"model": "mock", "messages": [{"role": "user", "content": "x" * 60_000}]}
    scoring = {"queue_size": 5, "buffer_bytes": 1024, "stall_seconds": 2.0}
    with process_gateway(mock[0].url, tmp_path, scoring=scoring) as (server, app):
        proc = app.state.process
        assert proc is not None and proc.pid is not None
        stopped = proc.pid
        os.kill(stopped, signal.SIGSTOP)
        try:
            started = time.monotonic()
            with httpx.Client(timeout=10) as client:
                codes = [client.post(server.url + "/v1/chat/completions", json=big,
                                     headers=auth()).status_code for _ in range(60)]
            took = time.monotonic() - started
            assert codes == [200] * 60
            wait_for(lambda: proc.unscored > 0)
            assert _health(server.url)["scoring"]["unscored"] > 0
            assert _metric(server.url, "distillwatch_gateway_scoring_dropped_total") > 0
            wait_for(lambda: proc.restarts == 1 and proc.alive, timeout=20)
        finally:
            with contextlib.suppress(ProcessLookupError):  # killed and reaped by now
                os.kill(stopped, signal.SIGCONT)
        assert took < 30
        wait_for(lambda: proc.observed + proc.unscored == proc.submitted)
        server.stop()
    assert len(read_log(tmp_path / "log")) == 60
    assert proc.submitted == 60 and proc.unscored > 0


def test_restart_restores_the_detector_standing_before_the_first_call(mock: Any,
                                                                       tmp_path: Path) -> None:
    state = tmp_path / "state"
    extra: dict[str, Any] = {"state_dir": str(state), "ladder": LADDER}
    with process_gateway(mock[0].url, tmp_path, factory=ONLINE, options=SMALL_DETECTOR,
                         **extra) as (server, app):
        for i in range(60):
            _chat(server.url, "acct_a", _harvest(i))
        wait_scored(app, 60)
        before = httpx.get(server.url + "/admin/accounts/acct_a", headers=admin()).json()
        server.stop()
    assert (state / "scorer.state").exists() and before["action"] != "observe"
    with process_gateway(mock[0].url, tmp_path, factory=ONLINE, options=SMALL_DETECTOR,
                         **extra) as (server, app):
        after = httpx.get(server.url + "/admin/accounts/acct_a", headers=admin()).json()
        health = _health(server.url)["scoring"]["process"]
        first = _chat(server.url, "acct_a", _harvest(61))
    assert health["restored"] and health["accounts"] == 1
    assert after["action"] == before["action"] and after["scored_calls"] == 60
    assert abs(after["risk"] - before["risk"]) < RISK_STEP
    assert first.headers["x-distillwatch-request-id"]
    last = read_log(tmp_path / "log")[-1]
    assert last["gateway"]["action"] == before["action"]


def test_the_scorer_saves_and_exits_when_the_gateway_goes_away(tmp_path: Path) -> None:
    """End of input (the gateway crashed): score what arrived, save, exit 0."""
    ours, theirs = socket.socketpair()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    proc = subprocess.Popen([sys.executable, "-m", "distillwatch.gateway._scorer_child",
                             str(theirs.fileno())], pass_fds=(theirs.fileno(),), env=env)
    theirs.close()
    config = {"factory": "gwkit:counting_scorer", "options": {"ramp": 10},
              "state": str(tmp_path / "s.state"), "checkpoint_seconds": 3600, "batch_max": 2,
              "ladder": {"thresholds": {"alert": 0.5}, "allowlisted_max": "alert"}}
    lines = b"".join(orjson.dumps({"ts": "2026-01-01T00:00:00Z", "request_id": f"r{i}",
                                   "account_id": "a"}) + b"\n" for i in range(7))
    ours.sendall(encode_frame(Kind.CONFIG, orjson.dumps(config))
                 + encode_frame(Kind.RECORDS, lines))
    ours.shutdown(socket.SHUT_WR)
    assert proc.wait(timeout=60) == 0
    got = FrameBuffer()
    with ours:
        while data := ours.recv(1 << 16):
            got.feed(data)
    frames = got.frames()
    kinds = [chr(k) for k, _ in frames]
    assert kinds[0] == "H" and "A" in kinds and kinds[-1] == "K"
    stats = [orjson.loads(p) for k, p in frames if k == Kind.STATS][-1]
    assert stats["observed"] == 7 and stats["frames"] == 1
    assert CountingScorer.load(tmp_path / "s.state").calls == {"a": 7}


@given(st.lists(st.tuples(st.sampled_from([Kind.RECORDS, Kind.STATS, Kind.QUIT]),
                          st.binary(max_size=300)), max_size=8),
       st.lists(st.integers(min_value=1, max_value=50), max_size=40))
def test_frames_come_out_whole_however_the_bytes_are_split(
        frames: list[tuple[int, bytes]], cuts: list[int]) -> None:
    data = b"".join(encode_frame(k, p) for k, p in frames)
    buffer = FrameBuffer()
    out: list[tuple[int, bytes]] = []
    start = 0
    for size in [*cuts, len(data)]:
        buffer.feed(data[start:start + size])
        start += size
        out.extend(buffer.frames())
    assert out == frames and len(buffer) == 0


def test_only_changed_standing_is_published() -> None:
    publisher = Publisher(Ladder(thresholds={"alert": 0.3, "throttle": 0.5}))

    def risk(value: float, reasons: tuple[str, ...] = ("X",)) -> LiveRisk:
        return LiveRisk("a", value, reasons, 1)

    assert len(publisher.changes([risk(0.10)])) == 1
    assert publisher.changes([risk(0.10 + RISK_STEP / 2)]) == []  # small move, same step
    assert len(publisher.changes([risk(0.10 + RISK_STEP)])) == 1  # moved a full step
    assert publisher.changes([risk(0.10 + RISK_STEP)]) == []
    assert len(publisher.changes([risk(0.10 + RISK_STEP, ("Y",))])) == 1  # reasons changed
    assert publisher.changes([risk(0.299, ("Y",))]) != []
    assert publisher.changes([risk(0.2995, ("Y",))]) == []
    assert publisher.changes([risk(0.3, ("Y",))])[0][1] == 0.3  # crossed a threshold
    publisher.ladder = Ladder(thresholds={"alert": 0.29})
    assert publisher.changes([risk(0.3, ("Y",)), None]) == []  # same step under the new one


def broken_factory(options: Any, state: Any) -> Any:
    """A scorer-process factory that fails, as a bad state file or config would."""
    raise ValueError("cannot build the scorer")


def test_a_scorer_that_cannot_start_stops_the_gateway_starting(tmp_path: Path) -> None:
    """Misconfiguration at start is fatal (a clear error), unlike a crash later on."""
    import asyncio

    from distillwatch.errors import ConfigError
    from distillwatch.gateway import ScorerProcess, ScorerSpec

    async def start() -> None:
        proc = ScorerProcess(ScorerSpec(factory="test_gateway_scorer_process:broken_factory"),
                             ladder=Ladder(), on_alert=lambda alert: None,
                             state=tmp_path / "s.state")
        await proc.start()

    with pytest.raises(ConfigError, match="exited during start-up"):
        asyncio.run(start())
