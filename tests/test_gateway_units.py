"""Gateway parts on their own: config validation, degrade rewrites, SSE parsing and assembly,
the log writer's back-pressure and gzip files."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any, ClassVar

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distillwatch.errors import ConfigError
from distillwatch.gateway import (
    Refusal,
    SSEParser,
    StepPolicy,
    StreamAssembler,
    TrafficLogWriter,
    degrade_request,
    degrade_response,
    load_config,
    parse_config,
)
from distillwatch.ingest import validate_traffic_record
from factories import make_event
from gwkit import read_log

UP = {"upstream": {"url": "http://127.0.0.1:9"}}


# --- config -------------------------------------------------------------------------------

def test_yaml_and_toml_configs_load_the_same(tmp_path: Path) -> None:
    yaml_file = tmp_path / "gw.yaml"
    yaml_file.write_text("upstream:\n  url: http://127.0.0.1:9000/v1\n"
                         "ladder:\n  thresholds: {alert: 0.2, block: 0.8}\n"
                         "steps:\n  degrade:\n    max_tokens_cap: 256\n"
                         "log:\n  dir: logs\n  gzip: true\n")
    toml_file = tmp_path / "gw.toml"
    toml_file.write_text('[upstream]\nurl = "http://127.0.0.1:9000/v1"\n'
                         '[ladder.thresholds]\nalert = 0.2\nblock = 0.8\n'
                         '[steps.degrade]\nmax_tokens_cap = 256\n'
                         '[log]\ndir = "logs"\ngzip = true\n')
    a, b = load_config(yaml_file), load_config(toml_file)
    assert a.ladder == b.ladder and a.steps == b.steps and a.log == b.log
    assert a.ladder.action_for(0.85) == "block"
    assert a.steps["degrade"].max_tokens_cap == 256
    assert a.steps["degrade"].logprobs == "strip"  # defaults kept for unset fields
    assert load_config(yaml_file, **{"log.gzip": False}).log.gzip is False


@pytest.mark.parametrize(("data", "message"), [
    ({}, "upstream.url"),
    ({"upstream": {"url": "ftp://x"}}, "upstream.url"),
    ({**UP, "bogus": 1}, "unknown config key bogus"),
    ({**UP, "upstream": {"url": "http://x", "read_timeout": -1}}, "read_timeout"),
    ({**UP, "ladder": {"thresholds": {"alert": 0.5, "throttle": 0.2}}}, "must not decrease"),
    ({**UP, "ladder": {"thresholds": {"alert": "high"}}}, "must be a number"),
    ({**UP, "steps": {"block": {}}}, "unknown step"),
    ({**UP, "steps": {"throttle": {"requests": "fast"}}}, "60/minute"),
    ({**UP, "steps": {"degrade": {"logprobs": "hide"}}}, "allow, strip, cap"),
    ({**UP, "steps": {"degrade": {"n_cap": 0}}}, "n_cap"),
    ({**UP, "steps": {"degrade": {"max_tokens_cap": "lots"}}}, "max_tokens_cap must be int"),
    ({**UP, "unknown_keys": "allow"}, "unknown_keys"),
    ({**UP, "throttle": {"storage": "mongodb://x"}}, "throttle.storage"),
    ({**UP, "admin": {"token_sha256": "plaintext"}}, "64 hex"),
    ({**UP, "block": {"status": 200}}, "block.status"),
    ({**UP, "log": {"gzip": "yes"}}, "log.gzip must be bool"),
])
def test_bad_config_is_a_clear_config_error(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(data)


def test_config_file_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "gw.yaml"
    bad.write_text("upstream: [unclosed\n")
    with pytest.raises(ConfigError, match=r"gw\.yaml"):
        load_config(bad)
    (tmp_path / "gw.ini").write_text("[upstream]\n")
    with pytest.raises(ConfigError, match=r"must be \.yaml"):
        load_config(tmp_path / "gw.ini")
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="canary_hook"):
        parse_config({**UP, "canary_hook": "no_colon"}).load_canary_hook()


# --- degrade ------------------------------------------------------------------------------

STRICT = StepPolicy(logprobs="strip", logit_bias="refuse", max_tokens_cap=100, n_cap=1,
                    withhold_reasoning=True)


def test_degrade_request_caps_and_strips_without_mutating() -> None:
    body = {"model": "m", "messages": [], "logprobs": True, "top_logprobs": 20, "n": 4,
            "max_completion_tokens": 5000}
    out, changes = degrade_request("/v1/chat/completions", body, STRICT)
    assert out == {"model": "m", "messages": [], "n": 1, "max_completion_tokens": 100}
    assert body["top_logprobs"] == 20  # input untouched
    assert set(changes) == {"top_logprobs:20->0", "logprobs:stripped", "n:4->1",
                            "max_completion_tokens:5000->100"}
    capped, _ = degrade_request("/v1/chat/completions", body,
                                StepPolicy(logprobs="cap", top_logprobs_cap=2))
    assert capped["top_logprobs"] == 2 and capped["logprobs"] is True
    unset, changes = degrade_request("/v1/responses", {"input": "x"}, STRICT)
    assert unset["max_output_tokens"] == 100 and changes == ["max_output_tokens:unset->100"]
    legacy, _ = degrade_request("/v1/completions", {"prompt": "x", "logprobs": 5, "best_of": 3},
                                STRICT)
    assert "logprobs" not in legacy and legacy["best_of"] == 1


def test_logit_bias_refused_or_stripped() -> None:
    body = {"messages": [], "logit_bias": {"1": 100}}
    refusal = degrade_request("/v1/chat/completions", body, STRICT)
    assert isinstance(refusal, Refusal) and refusal.status == 400
    out, changes = degrade_request("/v1/chat/completions", body,
                                   StepPolicy(logit_bias="strip"))
    assert "logit_bias" not in out and changes == ["logit_bias:stripped"]
    same, none = degrade_request("/v1/embeddings", {"input": "x", "logit_bias": {}}, STRICT)
    assert none == [] and same["logit_bias"] == {}


def test_degrade_response_strips_logprobs_reasoning_and_applies_canary() -> None:
    body = {"choices": [{"index": 0, "logprobs": {"content": [
        {"token": "a", "logprob": -1, "top_logprobs": [{"token": "a"}, {"token": "b"}]}]},
        "message": {"role": "assistant", "content": "hi", "reasoning_content": "secret"}}]}
    out, changes = degrade_response("/v1/chat/completions", body,
                                    StepPolicy(logprobs="strip", withhold_reasoning=True,
                                               canary=True),
                                    canary=lambda a, r, t: f"{t}<{a}:{r}>", account_id="A",
                                    request_id="R")
    assert out["choices"][0] == {"index": 0, "message": {"role": "assistant",
                                                         "content": "hi<A:R>"}}
    assert set(changes) == {"response.logprobs:stripped", "response.reasoning:withheld",
                            "response.canary"}
    assert body["choices"][0]["message"]["content"] == "hi"
    capped, _ = degrade_response("/v1/chat/completions", body,
                                 StepPolicy(logprobs="cap", top_logprobs_cap=1), canary=None,
                                 account_id="A", request_id="R")
    assert capped["choices"][0]["logprobs"]["content"][0]["top_logprobs"] == [{"token": "a"}]


# --- SSE ----------------------------------------------------------------------------------

def _stream(n: int) -> bytes:
    events = [b"data: " + orjson.dumps({"id": "c", "model": "m", "choices": [
        {"index": 0, "delta": {"content": f"w{i} "}, "finish_reason": None}]}) + b"\n\n"
        for i in range(n)]
    events.append(b"data: " + orjson.dumps({"choices": [
        {"index": 0, "delta": {}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": n}}) + b"\n\n")
    return b"".join(events) + b"data: [DONE]\n\n"


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 12), cuts=st.lists(st.integers(0, 4000), max_size=12),
       crlf=st.booleans())
def test_sse_parser_finds_the_same_events_however_the_bytes_are_split(
        n: int, cuts: list[int], crlf: bool) -> None:
    data = _stream(n)
    if crlf:
        data = data.replace(b"\n", b"\r\n")
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    parser = SSEParser()
    assembler = StreamAssembler()
    events = []
    for piece in pieces:
        for _raw, payload in parser.feed(piece):
            events.append(payload)
            if payload is not None:
                assembler.add(payload)
    assert len(events) == n + 2 and events[-1] == b"[DONE]"
    assert parser.pending == b""
    result = assembler.result()
    assert result["choices"][0]["message"]["content"] == "".join(f"w{i} " for i in range(n))
    assert result["choices"][0]["finish_reason"] == "stop"
    assert result["usage"]["completion_tokens"] == n
    assert assembler.done


def test_assembler_handles_completions_multi_line_data_and_responses_api() -> None:
    parser = SSEParser()
    events = parser.feed(b'event: x\ndata: {"choices": [{"index": 1, "text": "a"}]}\n\n'
                         b'data: {"choices": [{"index": 1, "text": "b",\ndata: '
                         b'"finish_reason": "length"}]}\n\n: comment\n\n')
    assembler = StreamAssembler()
    for _raw, payload in events:
        if payload is not None:
            assembler.add(payload)
    assert assembler.result()["choices"] == [{"index": 1, "text": "ab",
                                              "finish_reason": "length"}]
    responses = StreamAssembler()
    responses.add(b'{"type": "response.output_text.delta", "delta": "x"}')
    responses.add(b'{"type": "response.completed", "response": {"id": "r", "output": []}}')
    assert responses.result() == {"id": "r", "output": []}


# --- log writer ---------------------------------------------------------------------------

class SlowWriter(TrafficLogWriter):
    """A writer whose disk is slow: every flush takes 50 ms."""

    def _write(self, lines: list[bytes]) -> None:
        time.sleep(0.05)
        super()._write(lines)


def test_full_queue_applies_back_pressure_and_loses_nothing(tmp_path: Path) -> None:
    async def main() -> SlowWriter:
        writer = SlowWriter(tmp_path, queue_size=4, flush_interval=0.01)
        await writer.start()
        for i in range(60):
            await writer.submit(make_event(request_id=f"r{i}"))
        await writer.close()
        return writer

    writer = asyncio.run(main())
    records = read_log(tmp_path)
    assert [r["request_id"] for r in records] == [f"r{i}" for i in range(60)]
    assert writer.stats.backpressure_waits > 0 and writer.stats.written == 60


def test_gzip_rotation_writes_readable_members(tmp_path: Path) -> None:
    async def main() -> TrafficLogWriter:
        writer = TrafficLogWriter(tmp_path, compress=True, flush_interval=0.01,
                                  rotate_bytes=600)
        await writer.start()
        for i in range(40):
            await writer.submit(make_event(request_id=f"g{i}"))
            if i % 5 == 0:
                await asyncio.sleep(0.02)
        await writer.close()
        return writer

    writer = asyncio.run(main())
    assert writer.stats.files > 1
    assert all(p.name.endswith(".jsonl.gz") for p in writer.paths)
    records = read_log(tmp_path)
    assert sorted(r["request_id"] for r in records) == sorted(f"g{i}" for i in range(40))
    assert all(validate_traffic_record(r) is None for r in records)


def test_records_reach_disk_within_the_flush_interval(tmp_path: Path) -> None:
    async def main() -> int:
        writer = TrafficLogWriter(tmp_path, flush_interval=0.05)
        await writer.start()
        await writer.submit(make_event(request_id="early"))
        await asyncio.sleep(0.3)
        on_disk = len(read_log(tmp_path))  # before close: what a crash now would leave
        await writer.close()
        return on_disk

    assert asyncio.run(main()) == 1


class PolicyWriter(TrafficLogWriter):
    """Remembers the scheduling policy of the thread its writes run in."""

    policies: ClassVar[list[int]] = []

    def _write(self, lines: list[bytes]) -> None:
        self.policies.append(os.sched_getscheduler(0))
        super()._write(lines)


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="SCHED_IDLE is Linux's")
def test_flushes_run_at_idle_priority_off_the_event_loop(tmp_path: Path) -> None:
    async def main() -> None:
        writer = PolicyWriter(tmp_path, flush_interval=0.01)
        await writer.start()
        await writer.submit(make_event(request_id="idle"))
        await writer.close()

    asyncio.run(main())
    assert PolicyWriter.policies and set(PolicyWriter.policies) == {os.SCHED_IDLE}
    assert os.sched_getscheduler(0) != os.SCHED_IDLE  # the loop's own thread is untouched
    assert [r["request_id"] for r in read_log(tmp_path)] == ["idle"]


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="SCHED_IDLE is Linux's")
def test_idle_priority_gives_way_while_the_work_starves() -> None:
    """A unit that waited for a core (long wall time, little CPU) puts the thread back at
    ordinary priority; units that do not wait bring it back to idle priority."""
    import threading

    from distillwatch.gateway._priority import IdleUnlessStarved

    seen: list[int] = []

    def work() -> None:
        priority = IdleUnlessStarved(starved_after=1.0, relax_after=0.0)
        seen.append(os.sched_getscheduler(0))
        priority.observe(wall=0.2, cpu=0.19)  # did not wait: stays idle
        seen.append(os.sched_getscheduler(0))
        priority.observe(wall=3.0, cpu=0.05)  # waited 3 s for 50 ms of work
        seen.append(os.sched_getscheduler(0))
        priority.observe(wall=0.01, cpu=0.01)
        seen.append(os.sched_getscheduler(0))
        seen.append(priority.switches)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert seen == [os.SCHED_IDLE, os.SCHED_IDLE, os.SCHED_OTHER, os.SCHED_IDLE, 2]


_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-5, 10_000), st.text(max_size=5),
                    st.dictionaries(st.text(max_size=3), st.integers(-1000, 1000), max_size=2))
_KEYS = st.sampled_from(["model", "messages", "logprobs", "top_logprobs", "logit_bias", "n",
                         "best_of", "max_tokens", "max_completion_tokens",
                         "max_output_tokens", "include", "stream", "user"])


@settings(max_examples=200, deadline=None)
@given(body=st.dictionaries(_KEYS, _VALUES, max_size=8),
       endpoint=st.sampled_from(["/v1/chat/completions", "/v1/completions", "/v1/responses"]),
       logprobs=st.sampled_from(["allow", "strip", "cap"]), cap=st.integers(0, 5),
       bias=st.sampled_from(["allow", "strip", "refuse"]))
def test_degrade_request_never_mutates_and_respects_every_cap(
        body: dict[str, Any], endpoint: str, logprobs: str, cap: int, bias: str) -> None:
    step = StepPolicy(logprobs=logprobs, top_logprobs_cap=cap, logit_bias=bias,
                      max_tokens_cap=100, n_cap=2)
    before = orjson.dumps(body)
    result = degrade_request(endpoint, body, step)
    assert orjson.dumps(body) == before
    if isinstance(result, Refusal):
        assert bias == "refuse" and body.get("logit_bias")
        return
    out, changes = result
    assert all(isinstance(c, str) for c in changes)
    for key in ("max_tokens", "max_completion_tokens", "max_output_tokens"):
        assert out.get(key) is None or out[key] <= 100
    for key in ("n", "best_of"):
        value = out.get(key)
        assert not isinstance(value, int) or isinstance(value, bool) or value <= 2
    top = out.get("top_logprobs")
    if logprobs != "allow" and isinstance(top, int) and not isinstance(top, bool):
        assert top <= (cap if logprobs == "cap" else 0)
    if bias == "strip":
        assert not out.get("logit_bias")
