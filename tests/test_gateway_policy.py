"""Each ladder action end to end (real gateway and mock upstream on loopback), driven by a
LiveScorer double whose risk rises with an account's calls; overrides and the admin API;
throttling shared by two replicas through a real redis-server; restart with state restore."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from distillwatch.detect import OnlineConfig
from distillwatch.gateway import create_app, restore_or_create
from gwkit import (
    CountingScorer,
    ServerThread,
    admin,
    auth,
    gateway_config,
    read_log,
    redis_server,
    running_gateway,
    running_mock,
    wait_scored,
    write_keys,
)

CHAT = {"model": "mock", "messages": [{"role": "user", "content": "tell me a story"}]}
ECHO = {"x-mock-echo": "1"}
# observe < 0.15 <= alert < 0.34 <= throttle < 0.6 <= degrade < 0.9 <= block
LADDER = {"thresholds": {"alert": 0.15, "throttle": 0.34, "degrade": 0.6, "block": 0.9}}
STEPS = {"throttle": {"requests": "3/minute", "tokens": None},
         "degrade": {"requests": None, "tokens": None, "max_tokens_cap": 64, "n_cap": 1,
                     "logprobs": "strip", "logit_bias": "refuse", "withhold_reasoning": True,
                     "canary": True}}


def canary(account_id: str, request_id: str, text: str) -> str:
    return f"{text} [cn:{account_id}:{request_id[-4:]}]"


@pytest.fixture(scope="module")
def mock() -> Iterator[tuple[ServerThread, Any]]:
    with running_mock() as pair:
        yield pair


def _gateway(mock: Any, tmp_path: Path, scorer: Any, **extra: Any) -> Any:
    return running_gateway(mock[0].url, tmp_path, scorer=scorer, canary=canary, ladder=LADDER,
                           steps=STEPS, **extra)


def _chat(url: str, account: str, body: Any = None, extra: dict[str, str] | None = None,
          ) -> httpx.Response:
    return httpx.post(url + "/v1/chat/completions", json=body or CHAT,
                      headers={**auth(account), **(extra or {})}, timeout=10)


def test_risk_rising_with_calls_walks_the_ladder(mock: Any, tmp_path: Path) -> None:
    scorer = CountingScorer(ramp=10)  # risk = calls / 10
    with _gateway(mock, tmp_path, scorer) as (server, app):
        seen = []
        for i in range(12):
            response = _chat(server.url, "acct_a")
            wait_scored(app, i + 1)
            seen.append(response.status_code)
        actions = [orjson.loads(line) for line in
                   (tmp_path / "log/events/actions.jsonl").read_bytes().splitlines()]
        server.stop()
    steps = [a["action"] for a in actions if a["event"] == "action"]
    assert steps == ["alert", "throttle", "degrade", "block"]
    assert all(a["reasons"] == ["many_calls"] and a["source"] == "ladder" for a in actions)
    assert seen[:4] == [200] * 4 and seen[-1] == 403
    alerts = (tmp_path / "log/events/alerts.jsonl").read_bytes().splitlines()
    assert len(alerts) == 1 and orjson.loads(alerts[0])["account_id"] == "acct_a"
    records = read_log(tmp_path / "log")
    assert [r["gateway"]["action"] for r in records][:3] == ["observe", "observe", "alert"]
    assert all("risk" in r["gateway"] for r in records[1:])


def test_observe_and_alert_change_nothing(mock: Any, tmp_path: Path) -> None:
    scorer = CountingScorer(boost={"acct_b": 0.2})
    with _gateway(mock, tmp_path, scorer) as (server, _):
        direct = httpx.post(mock[0].url + "/v1/chat/completions", json=CHAT, headers=ECHO)
        for account in ("acct_a", "acct_b"):
            assert _chat(server.url, account, extra=ECHO).content == direct.content
        server.stop()
    records = read_log(tmp_path / "log")
    assert [r["gateway"]["action"] for r in records] == ["observe", "alert"]


def test_throttle_refuses_with_429_and_retry_after(mock: Any, tmp_path: Path) -> None:
    scorer = CountingScorer(boost={"acct_a": 0.4})
    with _gateway(mock, tmp_path, scorer) as (server, _):
        statuses = [_chat(server.url, "acct_a").status_code for _ in range(5)]
        refused = _chat(server.url, "acct_a")
        other = _chat(server.url, "acct_b")
        server.stop()
    assert statuses == [200, 200, 200, 429, 429]
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert int(refused.headers["retry-after"]) >= 1
    assert other.status_code == 200
    records = read_log(tmp_path / "log")
    assert sum(r["status"] == 429 for r in records) == 3
    assert all(r["gateway"]["action"] == "throttle" for r in records if r["status"] == 429)


def test_token_budget_throttles_after_the_tokens_are_spent(mock: Any, tmp_path: Path) -> None:
    scorer = CountingScorer(boost={"acct_a": 0.4})
    steps = {**STEPS, "throttle": {"requests": None, "tokens": "30/minute"}}
    with running_gateway(mock[0].url, tmp_path, scorer=scorer, ladder=LADDER, canary=canary,
                         steps=steps) as (server, _):
        statuses = [_chat(server.url, "acct_a").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]  # each call costs 18 tokens; 36 > 30 after two


def test_degrade_rewrites_request_and_response(mock: Any, tmp_path: Path) -> None:
    scorer = CountingScorer(boost={"acct_a": 0.7})
    body = {**CHAT, "model": "mock:reasoning=1", "logprobs": True, "top_logprobs": 5, "n": 3,
            "max_tokens": 4000}
    with _gateway(mock, tmp_path, scorer) as (server, _):
        response = _chat(server.url, "acct_a", body, ECHO)
        refused = _chat(server.url, "acct_a", {**CHAT, "logit_bias": {"50256": -100}})
        clean = _chat(server.url, "acct_b", body, ECHO)
        server.stop()
    assert response.status_code == 200
    forwarded = response.json()["echo"]
    assert "logprobs" not in forwarded and "top_logprobs" not in forwarded
    assert forwarded["n"] == 1 and forwarded["max_tokens"] == 64
    choice = response.json()["choices"][0]
    assert "logprobs" not in choice and "reasoning_content" not in choice["message"]
    assert choice["message"]["content"].endswith("]") and "[cn:acct_a:" in \
        choice["message"]["content"]
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "logit_bias_not_allowed"
    untouched = clean.json()
    assert untouched["echo"]["top_logprobs"] == 5 and len(untouched["choices"]) == 3
    assert "reasoning_content" in untouched["choices"][0]["message"]
    records = {r["account_id"] + str(r["status"]): r for r in read_log(tmp_path / "log")}
    changes = records["acct_a200"]["gateway"]["changes"]
    assert {"logprobs:stripped", "top_logprobs:5->0", "n:3->1", "max_tokens:4000->64",
            "response.reasoning:withheld", "response.canary"} <= set(changes)
    assert records["acct_a200"]["request"]["top_logprobs"] == 5  # the log keeps what was sent
    assert records["acct_a400"]["gateway"]["error"]["code"] == "logit_bias_not_allowed"


def test_degrade_on_streams_strips_reasoning_and_appends_the_canary(mock: Any,
                                                                    tmp_path: Path) -> None:
    scorer = CountingScorer(boost={"acct_a": 0.7})
    body = {**CHAT, "model": "mock:reasoning=1,chunks=5", "stream": True}
    with _gateway(mock, tmp_path, scorer) as (server, _):
        with httpx.stream("POST", server.url + "/v1/chat/completions", json=body,
                          headers=auth("acct_a")) as response:
            raw = b"".join(response.iter_raw())
        server.stop()
    events = [orjson.loads(e[6:]) for e in raw.split(b"\n\n") if e.startswith(b"data: {")]
    text = "".join(e["choices"][0]["delta"].get("content", "") for e in events)
    assert "[cn:acct_a:" in text and raw.endswith(b"data: [DONE]\n\n")
    assert not any("reasoning_content" in e["choices"][0]["delta"] for e in events)
    [record] = read_log(tmp_path / "log")
    message = record["response"]["choices"][0]["message"]
    assert message["content"] == text and "reasoning_content" not in message
    assert "response.canary" in record["gateway"]["changes"]


def test_allowlisted_accounts_stop_at_alert(mock: Any, tmp_path: Path) -> None:
    scorer = CountingScorer(boost={"acct_a": 1.0}, allowlisted=["acct_a"])
    with _gateway(mock, tmp_path, scorer) as (server, _):
        assert _chat(server.url, "acct_a").status_code == 200
        server.stop()
    assert read_log(tmp_path / "log")[0]["gateway"]["action"] == "alert"


def test_block_and_analyst_overrides_through_the_admin_api(mock: Any, tmp_path: Path) -> None:
    scorer = CountingScorer(boost={"acct_a": 0.95}, cluster={"acct_c": "ring-7"})
    with _gateway(mock, tmp_path, scorer, state_dir=str(tmp_path / "state")) as (server, app):
        blocked = _chat(server.url, "acct_a")
        assert blocked.status_code == 403
        assert blocked.json()["error"]["code"] == "account_blocked"
        url = server.url + "/admin/overrides/"
        assert httpx.put(url + "acct_a", json={"action": "observe"},
                         headers=admin()).status_code == 400  # a reason is required
        put = httpx.put(url + "acct_a", headers=admin(), json={
            "action": "observe", "reason": "vetted eval lab, ticket 42", "by": "ana"})
        assert put.status_code == 200
        assert _chat(server.url, "acct_a").status_code == 200
        assert httpx.put(url + "acct_b", headers=admin(), json={
            "action": "block", "reason": "chargeback fraud"}).status_code == 200
        assert _chat(server.url, "acct_b").status_code == 403
        _chat(server.url, "acct_c")  # gives acct_c a risk, so its ring is known
        wait_scored(app, 4)
        assert httpx.put(url + "ring:ring-7", headers=admin(), json={
            "action": "block", "reason": "ring of resellers"}).status_code == 200
        assert _chat(server.url, "acct_c").status_code == 403
        expired = httpx.put(url + "acct_d", headers=admin(), json={
            "action": "block", "reason": "temporary", "expires_at": "2020-01-01T00:00:00Z"})
        assert expired.status_code == 200 and _chat(server.url, "acct_d").status_code == 200
        account = httpx.get(server.url + "/admin/accounts/acct_a", headers=admin()).json()
        assert account["action"] == "observe" and account["source"] == "override"
        assert account["risk"] == pytest.approx(0.95, abs=0.01)
        assert account["override"]["reason"] == "vetted eval lab, ticket 42"
        assert httpx.delete(url + "acct_a", headers=admin()).status_code == 200
        assert httpx.delete(url + "acct_a", headers=admin()).status_code == 404
        assert _chat(server.url, "acct_a").status_code == 403
        server.stop()
    saved = orjson.loads((tmp_path / "state/overrides.json").read_bytes())
    assert set(saved) == {"acct_b", "ring:ring-7"}
    records = read_log(tmp_path / "log")
    observed = [r for r in records if r["account_id"] == "acct_a" and r["status"] == 200]
    assert observed[0]["gateway"]["reasons"] == ["analyst: vetted eval lab, ticket 42"]
    events = [orjson.loads(x) for x in
              (tmp_path / "log/events/actions.jsonl").read_bytes().splitlines()]
    assert sum(e["event"] == "override" for e in events) >= 4


def test_admin_api_needs_its_token_and_reports(mock: Any, tmp_path: Path) -> None:
    scorer = CountingScorer(ramp=10)
    with _gateway(mock, tmp_path, scorer) as (server, app):
        _chat(server.url, "acct_a")
        wait_scored(app, 1)
        assert httpx.get(server.url + "/admin/health").status_code == 401
        assert httpx.get(server.url + "/admin/health",
                         headers={"Authorization": "Bearer nope"}).status_code == 401
        health = httpx.get(server.url + "/admin/health", headers=admin()).json()
        assert health["status"] == "ok" and health["scoring"]["observed"] == 1
        metrics = httpx.get(server.url + "/admin/metrics", headers=admin())
        assert metrics.headers["content-type"].startswith("text/plain")
        text = metrics.text
        assert 'distillwatch_gateway_requests_total{endpoint="/v1/chat/completions",' \
               'status="200"} 1' in text
        assert "distillwatch_gateway_scored_total 1" in text
        assert "distillwatch_gateway_request_seconds_count 1" in text
        listing = httpx.get(server.url + "/admin/accounts", headers=admin()).json()["accounts"]
        by_id = {a["account_id"]: a for a in listing}
        assert set(by_id) >= {"acct_a", "acct_b", "acct_c", "acct_d"}
        assert by_id["acct_a"]["risk"] == pytest.approx(0.1) and by_id["acct_a"]["calls"] == 1


def test_admin_api_is_off_without_a_token(mock: Any, tmp_path: Path) -> None:
    with running_gateway(mock[0].url, tmp_path, admin={"token_sha256": None}) as (server, _):
        response = httpx.get(server.url + "/admin/health", headers=admin())
        assert response.status_code == 403 and "disabled" in response.text


def test_reload_swaps_keys_and_ladder_and_rejects_bad_config(mock: Any, tmp_path: Path) -> None:
    config_path = tmp_path / "gateway.yaml"
    keys = write_keys(tmp_path / "keys.jsonl", {"acct_a": "sk-test-aaaaaaaaaaaaaaaaaaaa"})
    base = {"upstream": {"url": mock[0].url}, "keys": str(keys),
            "log": {"dir": str(tmp_path / "log")}, "admin": {"token_sha256": None}}

    def write(extra: dict[str, Any]) -> None:
        import yaml

        config_path.write_text(yaml.safe_dump({**base, **extra}))

    import hashlib

    token = hashlib.sha256(b"admin-secret-token").hexdigest()
    write({"admin": {"token_sha256": token}})
    from distillwatch.gateway import load_config

    app = create_app(load_config(config_path), scorer=CountingScorer(boost={"acct_a": 0.5}))
    with ServerThread(app) as server:
        assert _chat(server.url, "acct_a").status_code == 200
        assert _chat(server.url, "acct_b").status_code == 401
        write_keys(keys, {"acct_a": "sk-test-aaaaaaaaaaaaaaaaaaaa",
                          "acct_b": "sk-test-bbbbbbbbbbbbbbbbbbbb"})
        write({"admin": {"token_sha256": token},
               "ladder": {"thresholds": {"alert": 0.1, "block": 0.4}}})
        reloaded = httpx.post(server.url + "/admin/reload", headers=admin())
        assert reloaded.status_code == 200 and reloaded.json()["keys"] == 2
        assert _chat(server.url, "acct_b").status_code == 200
        assert _chat(server.url, "acct_a").status_code == 403  # 0.5 now reaches block
        write({"admin": {"token_sha256": token}, "ladder": {"thresholds": {"alert": 7}}})
        bad = httpx.post(server.url + "/admin/reload", headers=admin())
        assert bad.status_code == 400 and "old config kept" in bad.text
        assert _chat(server.url, "acct_a").status_code == 403


def test_replicas_share_throttle_counters_through_redis(mock: Any, tmp_path: Path) -> None:
    with redis_server() as redis_url:
        extra = {"throttle": {"storage": redis_url}, "ladder": LADDER,
                 "steps": {"throttle": STEPS["throttle"]}}
        for i in range(2):
            (tmp_path / f"r{i}").mkdir()
        apps = [create_app(gateway_config(mock[0].url, tmp_path / f"r{i}", **extra),
                           scorer=CountingScorer(boost={"acct_a": 0.4})) for i in range(2)]
        with ServerThread(apps[0]) as one, ServerThread(apps[1]) as two:
            statuses = [_chat(server.url, "acct_a").status_code
                        for server in (one, two, one, two, one)]
            assert _chat(two.url, "acct_b").status_code == 200
    assert statuses == [200, 200, 200, 429, 429]  # 3/minute across both replicas


def test_throttle_fails_open_when_redis_is_down(mock: Any, tmp_path: Path) -> None:
    from gwkit import free_port

    extra = {"throttle": {"storage": f"redis://127.0.0.1:{free_port()}"}, "ladder": LADDER,
             "steps": {"throttle": STEPS["throttle"]}}
    with running_gateway(mock[0].url, tmp_path, scorer=CountingScorer(boost={"acct_a": 0.4}),
                         **extra) as (server, app):
        assert [_chat(server.url, "acct_a").status_code for _ in range(4)] == [200] * 4
        assert app.state.throttle.errors >= 4


def test_restart_restores_scorer_state_and_overrides(mock: Any, tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    extra = {"state_dir": str(state_dir), "ladder": LADDER, "steps": STEPS}
    scorer, restored = restore_or_create(CountingScorer.load, lambda: CountingScorer(ramp=10),
                                         state_dir / "scorer.state")
    assert not restored
    with running_gateway(mock[0].url, tmp_path, scorer=scorer, canary=canary,
                         **extra) as (server, app):
        for i in range(7):
            _chat(server.url, "acct_a")
            wait_scored(app, i + 1)
        httpx.put(server.url + "/admin/overrides/acct_b", headers=admin(),
                  json={"action": "block", "reason": "manual"})
        assert _chat(server.url, "acct_a").json()["choices"]  # degrade still answers
    assert (state_dir / "scorer.state").exists()

    again, restored = restore_or_create(CountingScorer.load, lambda: CountingScorer(ramp=10),
                                        state_dir / "scorer.state")
    assert restored and again.calls["acct_a"] == 8
    with running_gateway(mock[0].url, tmp_path, scorer=again, canary=canary,
                         **extra) as (server, _):
        view = httpx.get(server.url + "/admin/accounts/acct_a", headers=admin()).json()
        assert view["action"] == "degrade" and view["scored_calls"] == 8
        assert _chat(server.url, "acct_b").status_code == 403
    records = read_log(tmp_path / "log")
    assert len(records) == 9 and len({r["request_id"] for r in records}) == 9


class BrokenScorer(CountingScorer):
    def risk_of(self, account_id: str) -> Any:
        raise RuntimeError("scorer bug")


def test_failing_scorer_and_canary_fail_open(mock: Any, tmp_path: Path) -> None:
    def bad_canary(account_id: str, request_id: str, text: str) -> str:
        raise ValueError("canary bug")

    with running_gateway(mock[0].url, tmp_path, scorer=BrokenScorer(), canary=bad_canary,
                         ladder=LADDER, steps=STEPS) as (server, _):
        assert _chat(server.url, "acct_a").status_code == 200
    (tmp_path / "c").mkdir()
    degraded = CountingScorer(boost={"acct_a": 0.7})
    with running_gateway(mock[0].url, tmp_path / "c", scorer=degraded, canary=bad_canary,
                         ladder=LADDER, steps=STEPS) as (server, _):
        response = _chat(server.url, "acct_a")
        assert response.status_code == 200
        assert "[cn:" not in response.json()["choices"][0]["message"]["content"]


def test_an_internal_error_costs_one_call_never_its_record(mock: Any, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    import distillwatch.gateway._proxy as proxy

    def explode(*_args: Any) -> bytes:
        raise KeyError("bug")

    with running_gateway(mock[0].url, tmp_path) as (server, _):
        monkeypatch.setattr(proxy, "_answer_body", explode)
        failed = _chat(server.url, "acct_a")
        monkeypatch.undo()
        assert failed.status_code == 500
        assert failed.json()["error"]["code"] == "internal_error"
        assert _chat(server.url, "acct_a").status_code == 200
    records = read_log(tmp_path / "log")
    assert [r["status"] for r in records] == [500, 200]
    assert records[0]["gateway"]["error"]["code"] == "internal_error"


def test_the_real_online_detector_scores_through_the_gateway(mock: Any, tmp_path: Path
                                                              ) -> None:
    """The shipped detector behind the gateway: a harvest-shaped stream climbs the ladder
    while a chat app's stays at observe, and the detector saw every call."""
    from distillwatch.detect import OnlineDetector

    scorer = OnlineDetector(config=OnlineConfig(bloom_bits_log2=22, countmin_width_log2=14))
    with running_gateway(mock[0].url, tmp_path, scorer=scorer) as (server, app):
        for i in range(150):
            body = {"model": "mock:chunks=400,reasoning=1", "max_tokens": 8000,
                    "reasoning_effort": "high", "top_logprobs": 20, "logprobs": True,
                    "messages": [{"role": "user", "content":
                                  f"Problem {i}: integrate x^{i}. Think step by step."}]}
            _chat(server.url, "acct_a", body)
            chat = {"model": "mock:chunks=20", "user": f"u{i % 9}", "messages": [
                {"role": "system", "content": "You are ShopBot."},
                {"role": "user", "content": f"where is order {i % 12}?"}]}
            _chat(server.url, "acct_b", chat)
        wait_scored(app, 300)
        harvester, shop = scorer.risk_of("acct_a"), scorer.risk_of("acct_b")
        state = httpx.get(server.url + "/admin/accounts/acct_a", headers=admin(), timeout=10)
        server.stop()
    assert harvester is not None and shop is not None
    assert harvester.calls == 150 and shop.calls == 150 and scorer.rejected_ == 0
    assert harvester.risk > shop.risk and shop.risk < 0.34
    assert state.status_code == 200


def test_canaries_are_served_through_a_running_gateway(mock: Any, tmp_path: Path) -> None:
    """The forensics room's canary transform behind the gateway's ``degrade`` step: the
    answer a flagged account gets carries the canary, and the registry names the call."""
    from distillwatch.forensics import CanaryInjector, CanaryRegistry, KeyRing

    registry = CanaryRegistry(tmp_path / "canaries.sqlite")
    inject = CanaryInjector(registry, KeyRing({1: bytes(range(32))}, 1), share=1.0,
                            placement="append")
    scorer = CountingScorer(boost={"acct_a": 0.7})  # held at degrade
    with running_gateway(mock[0].url, tmp_path, scorer=scorer, canary=inject, ladder=LADDER,
                         steps=STEPS) as (server, _app):
        flagged = _chat(server.url, "acct_a")
        honest = _chat(server.url, "acct_b")
        server.stop()
    text = flagged.json()["choices"][0]["message"]["content"]
    rows = registry.served("acct_a")
    assert len(rows) == 1 and registry.served("acct_b") == []
    served = next(r for r in read_log(tmp_path / "log") if r["account_id"] == "acct_a")
    assert rows[0].request_id == served["request_id"]
    assert text != honest.json()["choices"][0]["message"]["content"]
    assert served["gateway"]["action"] == "degrade"
    assert "response.canary" in served["gateway"]["changes"]
