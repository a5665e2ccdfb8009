"""watch: the online detector, its sketches, alert policy, snapshots, sinks and command."""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.factories import make_event, write_jsonl

from distillwatch.act import Ladder
from distillwatch.act._sinks import JsonlSink, WebhookSink
from distillwatch.cli import cli
from distillwatch.detect import Alert, OnlineConfig, OnlineDetector
from distillwatch.detect._online import FEATURE_COLUMNS
from distillwatch.detect._sketch import (
    BloomFilter,
    CountMin,
    Groups,
    first_in_batch,
    occurrence_index,
)
from distillwatch.errors import InputError
from distillwatch.features import call_features
from distillwatch.ingest import Store, read_canonical_batches
from distillwatch.scan import ScanOptions, ScanSummary, ingest
from distillwatch.sim import simulate
from distillwatch.watch import WatchOptions, follow, watch

# ------------------------------------------------------------------------------ sketches
ids_strategy = st.lists(st.integers(0, 6), min_size=0, max_size=60)


@given(ids_strategy)
def test_group_cumsum_cummax_previous_match_a_loop(ids: list[int]) -> None:
    g = Groups(np.array(ids, dtype=np.int64))
    values = np.arange(len(ids), dtype=np.float64) % 5
    fill = np.full(len(ids), -1.0)
    total: dict[int, float] = {}
    best: dict[int, float] = {}
    last: dict[int, float] = {}
    want_sum, want_max, want_prev = [], [], []
    for i, k in enumerate(ids):
        want_prev.append(last.get(k, -1.0))
        total[k] = total.get(k, 0.0) + values[i]
        best[k] = max(best.get(k, 0.0), values[i])
        last[k] = values[i]
        want_sum.append(total[k])
        want_max.append(best[k])
    assert g.cumsum(values).tolist() == want_sum
    assert g.cummax(values).tolist() == want_max
    assert g.previous(values, fill).tolist() == want_prev


@given(st.lists(st.integers(0, 5), max_size=40), st.lists(st.booleans(), max_size=40))
def test_first_in_batch_and_occurrence_index(keys: list[int], mask: list[bool]) -> None:
    n = min(len(keys), len(mask))
    k = np.array(keys[:n], dtype=np.uint64)
    m = np.array(mask[:n], dtype=bool)
    seen: set[int] = set()
    counts: dict[int, int] = {}
    for i in range(n):
        assert first_in_batch(k, m)[i] == (m[i] and int(k[i]) not in seen)
        if m[i]:
            seen.add(int(k[i]))
        assert occurrence_index(k)[i] == counts.get(int(k[i]), 0)
        counts[int(k[i])] = counts.get(int(k[i]), 0) + 1


def test_bloom_filter_never_forgets_and_count_min_never_undercounts() -> None:
    rng = np.random.default_rng(3)
    keys = rng.integers(0, 2**63, size=5000).astype(np.uint64)
    bloom = BloomFilter(bits_log2=20)
    bloom.add(keys)
    assert bloom.contains(keys).all()
    others = rng.integers(0, 2**63, size=5000).astype(np.uint64)
    assert bloom.contains(others).mean() < 0.01
    cms = CountMin(width_log2=12)
    repeated = np.repeat(keys[:100], 3)
    cms.add(repeated)
    assert (cms.estimate(keys[:100]) >= 3).all()


# --------------------------------------------------------------------- hand-made traffic
def _harvester(n: int, account: str = "acct_h", start: float = 0.0) -> list[dict[str, Any]]:
    return [make_event(account, minutes=start + i * 0.5,
                       user_text=f"Solve problem {i} about topic {i * 7}. Think step by step.",
                       completion_tokens=2500, max_tokens=8000, reasoning_effort="high",
                       reasoning_tokens=1500, request_id=f"{account}-{i}")
            for i in range(n)]


def _honest(n: int, account: str, start: float = 0.0) -> list[dict[str, Any]]:
    """A chat app: end-user ids, a fixed system prompt, conversations, short answers."""
    out = []
    for i in range(n):
        history = [{"role": "user", "content": "hello"},
                   {"role": "assistant", "content": "Hi, how can I help?"}] if i % 2 else None
        out.append(make_event(account, minutes=start + i * 7.0, system="You are ShopBot.",
                              user_text=f"where is my order {i % 40}?", history=history,
                              completion_tokens=60, max_tokens=300, user=f"u{i % 50}",
                              request_id=f"{account}-{i}"))
    return out


def _features(records: list[dict[str, Any]], tmp: Path) -> pa.Table:
    path = write_jsonl(tmp / "t.jsonl", records)
    table = pa.Table.from_batches([call_features(b) for b in
                                   read_canonical_batches([str(path)])])
    return table.sort_by([("ts", "ascending"), ("request_id", "ascending")])


def _quiet_config(**kw: Any) -> OnlineConfig:
    return OnlineConfig(bloom_bits_log2=22, countmin_width_log2=14, **kw)


def test_alerts_fire_on_a_harvester_and_not_on_honest_apps(tmp_path: Path) -> None:
    records = _harvester(300) + _honest(400, "acct_shop") + _honest(400, "acct_shop2", 3)
    table = _features(records, tmp_path)
    detector = OnlineDetector(config=_quiet_config())
    alerts = detector.observe_features(table)
    alerted = {a.account_id for a in alerts}
    assert alerted == {"acct_h"}
    first = alerts[0]
    assert first.calls >= detector.config.min_calls
    assert first.action in {"alert", "throttle", "degrade"}
    assert first.reasons  # explained with scan's reason codes
    # the alert names a real call of the account, and used only calls up to it
    assert first.request_id.startswith("acct_h-")
    assert first.calls == int(first.request_id.split("-")[1]) + 1
    live = detector.risk_of("acct_h")
    assert live is not None and live.risk >= 0.34 and live.calls == 300
    shop = detector.risk_of("acct_shop")
    assert shop is not None and shop.risk < 0.34
    assert detector.risk_of("nobody") is None


def test_an_account_is_not_alerted_on_every_call(tmp_path: Path) -> None:
    table = _features(_harvester(400), tmp_path)
    alerts = OnlineDetector(config=_quiet_config()).observe_features(table)
    # one alert per step climbed at most: hysteresis and escalation only
    assert 1 <= len(alerts) <= 3
    ranks = [("observe", "alert", "throttle", "degrade", "block").index(a.action)
             for a in alerts]
    assert ranks == sorted(set(ranks))


def test_allowlisted_accounts_are_lowered_never_hidden(tmp_path: Path) -> None:
    table = _features(_harvester(300), tmp_path)
    accounts = pa.table({"account_id": ["acct_h"], "created_at": pa.array(
        [None], pa.timestamp("us", tz="UTC")), "allowlisted": [True]})
    alerts = OnlineDetector(accounts, config=_quiet_config()).observe_features(table)
    assert alerts and {a.action for a in alerts} == {"alert"}


@settings(max_examples=8, deadline=None)
@given(st.lists(st.integers(1, 200), min_size=1, max_size=6))
def test_batch_boundaries_do_not_change_any_alert(tmp_path_factory: Any, cuts: list[int]
                                                  ) -> None:
    tmp = tmp_path_factory.mktemp("b")
    records = _harvester(150) + _honest(150, "acct_shop") + _harvester(120, "acct_h2", 1.3)
    table = _features(records, tmp)
    config = _quiet_config(refresh_calls=10**9)
    whole = OnlineDetector(config=config).observe_features(table)
    pieces = OnlineDetector(config=config)
    split: list[Alert] = []
    start = 0
    for cut in [*cuts, table.num_rows]:
        end = min(start + cut, table.num_rows)
        split += pieces.observe_features(table.slice(start, end - start))
        start = end
        if start >= table.num_rows:
            break
    if start < table.num_rows:
        split += pieces.observe_features(table.slice(start))
    assert [a.to_json() for a in split] == [a.to_json() for a in whole]


def test_observe_takes_records_and_names_bad_fields() -> None:
    detector = OnlineDetector(config=_quiet_config())
    assert detector.observe([make_event("acct_x")]) == []
    assert detector.risk_of("acct_x") is not None
    bad = make_event("acct_x")
    del bad["endpoint"]
    with pytest.raises(InputError, match="endpoint"):
        detector.observe([bad], strict=True)
    late, early = make_event("acct_y", minutes=9), make_event("acct_y", minutes=1)
    assert detector.observe([bad, late, early]) == []  # the bad one is counted, not fatal
    assert detector.rejected_ == 1 and "endpoint" in (detector.last_rejection_ or "")
    assert detector.risk_of("acct_y") is not None and detector.risk_of("acct_y").calls == 2


def test_snapshot_round_trip_continues_exactly(tmp_path: Path) -> None:
    table = _features(_harvester(200) + _honest(200, "acct_shop"), tmp_path)
    config = _quiet_config(refresh_calls=10**9)
    straight = OnlineDetector(config=config).observe_features(table)
    first = OnlineDetector(config=config)
    half = first.observe_features(table.slice(0, 150))
    first.save(tmp_path / "state.npz")
    restored = OnlineDetector.load(tmp_path / "state.npz")
    rest = restored.observe_features(table.slice(150))
    assert [a.to_json() for a in half + rest] == [a.to_json() for a in straight]
    assert restored.n_accounts == first.n_accounts
    assert restored.seen(*first.last_key_)


def test_a_damaged_snapshot_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "state.npz"
    path.write_bytes(b"not a snapshot")
    with pytest.raises(InputError, match=r"state\.npz"):
        OnlineDetector.load(path)


def test_state_memory_is_bounded_per_account() -> None:
    detector = OnlineDetector(config=_quiet_config())
    sizes = detector.state_bytes()
    assert sizes["bytes_per_account_slot"] < 1024


# -------------------------------------------------------------------------------- sinks
class _Hook(http.server.BaseHTTPRequestHandler):
    failures_left = 0
    received: list[dict[str, Any]] = []  # noqa: RUF012 - one test server per test

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if type(self).failures_left > 0:
            type(self).failures_left -= 1
            self.send_response(503)
            self.end_headers()
            return
        type(self).received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hook_server() -> Iterator[tuple[str, type[_Hook]]]:
    handler = type("Hook", (_Hook,), {"failures_left": 0, "received": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", handler
    finally:
        server.shutdown()
        server.server_close()


def _alert(i: int) -> Alert:
    return Alert(ts="2026-09-01T00:00:00Z", account_id=f"a{i}", request_id=f"r{i}", risk=0.9,
                 action="alert", reasons=("HIGH_VOLUME",))


def test_webhook_retries_with_backoff_until_delivered(hook_server: Any) -> None:
    url, handler = hook_server
    handler.failures_left = 2
    sink = WebhookSink(url, backoff=0.01, retries=4)
    sink.emit([_alert(1), _alert(2)])
    sink.close()
    assert sink.stats.retries == 2
    assert sink.stats.delivered_alerts == 2 and sink.stats.failed_alerts == 0
    assert [a["account_id"] for a in handler.received[0]["alerts"]] == ["a1", "a2"]


def test_a_dead_webhook_never_blocks_and_is_counted() -> None:
    with socket.socket() as s:  # a port with nobody listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sink = WebhookSink(f"http://127.0.0.1:{port}/hook", backoff=0.01, retries=2,
                       queue_size=2, timeout=0.5)
    for i in range(10):  # returns at once even though nothing can be delivered
        sink.emit([_alert(i)])
    sink.close(timeout=5)
    stats = sink.stats
    assert stats.delivered_alerts == 0
    assert stats.failed_alerts + stats.dropped_alerts == 10
    assert stats.last_error


def test_jsonl_sink_writes_the_spec_fields(tmp_path: Path) -> None:
    sink = JsonlSink(tmp_path / "a.jsonl")
    sink.emit([_alert(1)])
    sink.close()
    line = orjson.loads((tmp_path / "a.jsonl").read_bytes().splitlines()[0])
    assert list(line)[:6] == ["ts", "account_id", "request_id", "risk", "action", "reasons"]


def test_ladder_rejects_bad_steps() -> None:
    from distillwatch.errors import ConfigError

    with pytest.raises(ConfigError):
        Ladder(thresholds={"alert": 0.5, "throttle": 0.2})
    with pytest.raises(ConfigError):
        Ladder(thresholds={"explode": 0.5})
    assert Ladder().action_for(0.99, allowlisted=True) == "alert"


# --------------------------------------------------------------- replay over simulation
@pytest.fixture(scope="module")
def demo_sim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim") / "demo"
    simulate(out=out, scenario="demo", seed=11)
    return out


def _labels(sim: Path) -> dict[str, dict[str, Any]]:
    return {r["account_id"]: r for r in map(json.loads,
                                            (sim / "labels.jsonl").read_text().splitlines())}


@pytest.mark.slow
def test_replay_alerts_harvesters_early_and_spares_hard_negatives(demo_sim: Path,
                                                                  tmp_path: Path) -> None:
    alerts_path = tmp_path / "alerts.jsonl"
    options = WatchOptions(alerts=alerts_path, accounts=str(demo_sim / "accounts.jsonl"),
                           workers=1, link_hours=24.0)
    summary = watch([str(demo_sim / "traffic.jsonl.gz")], options)
    labels = _labels(demo_sim)
    alerts = [json.loads(line) for line in alerts_path.read_text().splitlines()]
    assert summary.alerts == len(alerts) > 0
    alerted = {a["account_id"] for a in alerts}
    harvesters = {a for a, r in labels.items() if r["label"] == "harvester"}
    benign = {a for a, r in labels.items() if r["label"] == "benign"}
    assert len(alerted & harvesters) >= 0.9 * len(harvesters)
    hard = {a for a in benign if labels[a]["profile"] in
            {"batch_job", "eval_lab", "reseller", "power_user"}}
    assert not alerted & hard
    assert len(alerted & benign) <= 1
    # each alert carries a call of its own account, and calls/tokens served until then
    with Store(tmp_path / "check.duckdb") as store:
        ingest(store, [str(demo_sim / "traffic.jsonl.gz")],
               ScanOptions(out=tmp_path, db=tmp_path / "check.duckdb", workers=1),
               ScanSummary())
        calls = store.query_arrow("SELECT request_id, account_id FROM calls").to_pydict()
    owner = dict(zip(calls["request_id"], calls["account_id"], strict=True))
    for alert in alerts:
        assert owner[alert["request_id"]] == alert["account_id"]
        assert alert["calls"] >= 1 and alert["output_tokens"] >= 0


@pytest.mark.slow
def test_restart_from_state_skips_seen_calls_and_repeats_no_alert(demo_sim: Path,
                                                                  tmp_path: Path) -> None:
    traffic = str(demo_sim / "traffic.jsonl.gz")
    alerts = tmp_path / "alerts.jsonl"
    state = tmp_path / "watch.state"
    db = tmp_path / "w.duckdb"
    base = dict(alerts=alerts, accounts=str(demo_sim / "accounts.jsonl"), workers=1,
                state=state, db=db, link_hours=0.0)
    first = watch([traffic], WatchOptions(**base))  # type: ignore[arg-type]
    assert state.is_file() and first.snapshots >= 1
    before = alerts.read_text()
    again = watch([traffic], WatchOptions(**base))  # type: ignore[arg-type]
    assert again.restored and again.replayed == 0 and again.skipped == first.replayed
    assert alerts.read_text() == before  # nothing raised twice


def test_follow_tails_a_growing_log_and_resumes(tmp_path: Path) -> None:
    log = tmp_path / "live.jsonl"
    log.write_bytes(b"")
    alerts = tmp_path / "alerts.jsonl"
    state = tmp_path / "state.npz"
    options = WatchOptions(alerts=alerts, state=state, snapshot_seconds=1.0,
                           config=_quiet_config())
    stop = threading.Event()
    done: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: done.setdefault(
        "summary", follow(log, options, poll_seconds=0.05, stop=stop)))
    thread.start()
    records = _harvester(200)
    with log.open("ab") as fh:
        for r in records[:150]:
            fh.write(orjson.dumps(r) + b"\n")
        fh.write(b"{not json\n")
        fh.write(orjson.dumps(records[150])[:20])  # a partial line waits for its end
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (alerts.exists() and alerts.read_bytes()):
        time.sleep(0.05)
    stop.set()
    thread.join(30)
    summary = done["summary"]
    assert summary.replayed == 150 and summary.read.bad == 1
    assert summary.read.bad_examples[0].line == 151
    assert alerts.read_bytes()
    first_alerts = alerts.read_bytes()
    with log.open("ab") as fh:  # finish the partial line, add the rest
        fh.write(orjson.dumps(records[150])[20:] + b"\n")
        for r in records[151:]:
            fh.write(orjson.dumps(r) + b"\n")
    resumed = _follow_once(log, options)
    assert resumed.restored and resumed.replayed == 50
    assert alerts.read_bytes().startswith(first_alerts)


def _follow_once(log: Path, options: WatchOptions) -> Any:
    """Run follow until it has caught up with the file, then stop it."""
    stop = threading.Event()
    result: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: result.setdefault(
        "s", follow(log, options, poll_seconds=0.05, stop=stop)))
    thread.start()
    time.sleep(1.0)
    stop.set()
    thread.join(30)
    return result["s"]


def test_watch_command_help_and_usage_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["watch", "--help"])
    assert result.exit_code == 0 and "--follow" in result.output
    result = runner.invoke(cli, ["watch", "--alerts", str(tmp_path / "a.jsonl")])
    assert result.exit_code != 0


def test_watch_command_on_hand_made_log(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "t.jsonl", _harvester(300) + _honest(200, "acct_shop"))
    alerts = tmp_path / "alerts.jsonl"
    result = CliRunner().invoke(cli, ["watch", str(path), "--alerts", str(alerts), "-q",
                                      "--workers", "1"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in alerts.read_text().splitlines()]
    assert rows and {r["account_id"] for r in rows} == {"acct_h"}
    assert set(FEATURE_COLUMNS) <= set(call_features(next(iter(read_canonical_batches(
        [str(path)])))).schema.names)
