"""The gateway in front of the mock upstream, both real servers on loopback: fidelity,
errors, faults, keys, bad requests, and the traffic log they leave."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from distillwatch.errors import InputError
from distillwatch.gateway import KeyStore
from distillwatch.ingest import validate_traffic_record
from gwkit import (
    KEYS,
    CountingScorer,
    ServerThread,
    auth,
    free_port,
    read_log,
    running_gateway,
    running_mock,
    wait_for,
)

CHAT = {"model": "mock", "messages": [{"role": "user", "content": "hello there"}]}


@pytest.fixture(scope="module")
def mock() -> Iterator[tuple[ServerThread, Any]]:
    with running_mock() as pair:
        yield pair


@pytest.fixture
def gw(mock: tuple[ServerThread, Any], tmp_path: Path) -> Iterator[tuple[ServerThread, Any]]:
    with running_gateway(mock[0].url, tmp_path, scorer=CountingScorer()) as pair:
        yield pair


def _post(url: str, body: Any, headers: dict[str, str] | None = None,
          path: str = "/v1/chat/completions") -> httpx.Response:
    return httpx.post(url + path, json=body, headers=headers or {}, timeout=10)


def _stream_bytes(url: str, body: Any, headers: dict[str, str]) -> tuple[int, dict[str, str],
                                                                         list[bytes]]:
    with httpx.stream("POST", url + "/v1/chat/completions", json=body, headers=headers,
                      timeout=10) as response:
        return response.status_code, dict(response.headers), list(response.iter_raw())


def _stopped_log(server: ServerThread, tmp_path: Path) -> list[dict[str, Any]]:
    server.stop()
    return read_log(tmp_path / "log")


@pytest.mark.parametrize(("path", "body"), [
    ("/v1/chat/completions", CHAT),
    ("/v1/completions", {"model": "mock", "prompt": "Say hi", "logprobs": 2}),
    ("/v1/responses", {"model": "mock", "input": "Say hi"}),
    ("/v1/embeddings", {"model": "mock", "input": ["a", "b"]}),
])
def test_bodies_and_headers_pass_through_unchanged(mock: Any, gw: Any, path: str,
                                                   body: Any) -> None:
    direct = _post(mock[0].url, body, path=path)
    proxied = _post(gw[0].url, body, auth(), path=path)
    assert proxied.status_code == direct.status_code == 200
    assert proxied.content == direct.content
    assert proxied.headers["content-type"] == direct.headers["content-type"]
    assert proxied.headers["x-distillwatch-request-id"].startswith("dw-")


def test_models_listing_passes_through(mock: Any, gw: Any) -> None:
    direct = httpx.get(mock[0].url + "/v1/models")
    proxied = httpx.get(gw[0].url + "/v1/models", headers=auth())
    assert proxied.status_code == 200 and proxied.content == direct.content


def test_sse_stream_is_byte_for_byte_and_logged_assembled(mock: Any, gw: Any,
                                                          tmp_path: Path) -> None:
    body = {**CHAT, "stream": True, "model": "mock:chunks=12"}
    d_status, d_headers, direct = _stream_bytes(mock[0].url, body, {})
    p_status, p_headers, proxied = _stream_bytes(gw[0].url, body, auth())
    assert p_status == d_status == 200
    assert b"".join(proxied) == b"".join(direct)
    assert p_headers["content-type"] == "text/event-stream"
    assert p_headers["cache-control"] == d_headers["cache-control"] == "no-cache"
    expected = "".join(orjson.loads(line[6:])["choices"][0]["delta"].get("content", "")
                       for line in b"".join(direct).split(b"\n\n")
                       if line.startswith(b"data: {"))
    [record] = _stopped_log(gw[0], tmp_path)
    assert record["request"]["stream"] is True
    assert record["response"]["choices"][0]["message"]["content"] == expected
    assert record["response"]["choices"][0]["finish_reason"] == "stop"
    assert record["response"]["usage"]["completion_tokens"] == 12


@pytest.mark.parametrize("status", [400, 404, 429, 500, 503])
def test_upstream_errors_reach_the_client_faithfully(mock: Any, gw: Any, tmp_path: Path,
                                                     status: int) -> None:
    body = {**CHAT, "model": f"mock:status={status}"}
    direct = _post(mock[0].url, body)
    proxied = _post(gw[0].url, body, auth())
    assert proxied.status_code == direct.status_code == status
    assert proxied.content == direct.content
    [record] = _stopped_log(gw[0], tmp_path)
    assert record["status"] == status and record["response"] is None
    assert record["gateway"]["error"]["error"]["code"] == status


def test_upstream_timeout_gives_504_and_a_record(mock: Any, tmp_path: Path) -> None:
    with running_gateway(mock[0].url, tmp_path, upstream={"url": mock[0].url,
                                                          "read_timeout": 0.2}) as (server, _):
        proxied = _post(server.url, {**CHAT, "model": "mock:delay=1"}, auth())
        assert proxied.status_code == 504
        assert proxied.json()["error"]["code"] == "upstream_timeout"
        [record] = _stopped_log(server, tmp_path)
    assert record["status"] == 504 and record["gateway"]["error"]["code"] == "upstream_timeout"


def test_unreachable_upstream_gives_502(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    with running_gateway(dead, tmp_path) as (server, _):
        proxied = _post(server.url, CHAT, auth())
        assert proxied.status_code == 502
        assert proxied.json()["error"]["code"] == "upstream_unreachable"
        [record] = _stopped_log(server, tmp_path)
    assert record["status"] == 502


def test_broken_stream_breaks_the_client_stream_and_is_logged(mock: Any, gw: Any,
                                                              tmp_path: Path) -> None:
    body = {**CHAT, "stream": True, "model": "mock:chunks=10,break=3"}
    with pytest.raises(httpx.RemoteProtocolError):
        _stream_bytes(gw[0].url, body, auth())
    wait_for(lambda: gw[1].state.writer.stats.submitted >= 1)
    [record] = _stopped_log(gw[0], tmp_path)
    assert record["gateway"]["error"]["code"] == "upstream_broken"
    assert record["response"]["choices"][0]["message"]["content"].count(" ") == 3
    assert validate_traffic_record(record) is None


def test_client_disconnect_cancels_the_upstream_call(mock: Any, gw: Any,
                                                     tmp_path: Path) -> None:
    before = mock[1].disconnects
    body = orjson.dumps({**CHAT, "stream": True, "model": "mock:chunks=200,slow=0.02"})
    request = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
               f"Authorization: Bearer {KEYS['acct_a']}\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    with socket.create_connection(("127.0.0.1", gw[0].port)) as sock:
        sock.sendall(request)
        assert b"200 OK" in sock.recv(4096)
        time.sleep(0.1)
    wait_for(lambda: mock[1].disconnects > before, timeout=5)
    [record] = _stopped_log(gw[0], tmp_path)
    assert record["status"] == 499
    assert record["gateway"]["error"]["code"] == "client_disconnected"


def test_non_streamed_disconnect_cancels_too(mock: Any, gw: Any, tmp_path: Path) -> None:
    body = orjson.dumps({**CHAT, "model": "mock:delay=3"})
    request = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
               f"Authorization: Bearer {KEYS['acct_a']}\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", gw[0].port)) as sock:
        sock.sendall(request)
        time.sleep(0.2)
    wait_for(lambda: gw[1].state.metrics.client_disconnects >= 1, timeout=2)
    assert time.monotonic() - started < 2.5  # did not wait for the upstream's 3 s
    [record] = _stopped_log(gw[0], tmp_path)
    assert record["status"] == 499


# --- keys ---------------------------------------------------------------------------------

def test_unknown_and_missing_keys_are_rejected(gw: Any, tmp_path: Path) -> None:
    wrong = _post(gw[0].url, CHAT, {"Authorization": "Bearer sk-not-a-known-key-123456"})
    missing = _post(gw[0].url, CHAT)
    basic = _post(gw[0].url, CHAT, {"Authorization": "Basic abc"})
    assert wrong.status_code == missing.status_code == basic.status_code == 401
    assert wrong.json()["error"]["code"] == "invalid_api_key"
    records = _stopped_log(gw[0], tmp_path)
    assert len(records) == 3 and {r["status"] for r in records} == {401}
    log_text = b"".join(p.read_bytes() for p in (tmp_path / "log").rglob("*.jsonl"))
    assert b"sk-not-a-known-key" not in log_text


def test_keys_are_hashed_and_never_logged(gw: Any, tmp_path: Path) -> None:
    assert _post(gw[0].url, CHAT, auth("acct_b")).status_code == 200
    [record] = _stopped_log(gw[0], tmp_path)
    assert record["account_id"] == "acct_b"
    assert record["key_id"].startswith("sha256:")
    stored = (tmp_path / "keys.jsonl").read_text() + (tmp_path / "log").joinpath(
        next(p.name for p in (tmp_path / "log").glob("*.jsonl"))).read_text()
    assert all(key not in stored for key in KEYS.values())


def test_observe_only_mode_passes_unknown_keys(mock: Any, tmp_path: Path) -> None:
    scorer = CountingScorer(boost={"acct_a": 1.0})
    with running_gateway(mock[0].url, tmp_path, scorer=scorer,
                         unknown_keys="observe") as (server, _):
        response = _post(server.url, CHAT, {"Authorization": "Bearer sk-someone-else-12345"})
        assert response.status_code == 200
        [record] = _stopped_log(server, tmp_path)
    assert record["account_id"].startswith("unknown:sha256:")
    assert record["gateway"]["action"] == "observe"
    assert record["gateway"]["key"] == "unknown"


def test_keys_file_errors_name_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "keys.jsonl"
    path.write_text('{"account_id": "a", "key_sha256": "' + "0" * 64 + '"}\n'
                    '{"account_id": "b", "key_sha256": "sk-live-plaintext"}\n')
    with pytest.raises(InputError) as info:
        KeyStore.from_file(path)
    assert info.value.line == 2 and info.value.field == "key_sha256"
    path.write_text("not json\n")
    with pytest.raises(InputError, match=r"keys\.jsonl:1"):
        KeyStore.from_file(path)


# --- bad requests -------------------------------------------------------------------------

def test_bad_requests_get_a_clear_4xx_and_never_crash(gw: Any, tmp_path: Path) -> None:
    url = gw[0].url + "/v1/chat/completions"
    headers = {**auth(), "Content-Type": "application/json"}
    cases = [
        (httpx.post(url, content=b"{not json", headers=headers), 400, "invalid_json"),
        (httpx.post(url, content=b"[1, 2]", headers=headers), 400, "invalid_json"),
        (httpx.post(url, content=b"\xff\xfe", headers=headers), 400, "invalid_json"),
        (httpx.post(url, content=b"x" * (5 * 1024 * 1024), headers=headers), 413,
         "request_too_large"),
        (httpx.post(url, content=iter([b"{", b"x" * (5 * 1024 * 1024)]), headers=headers), 413,
         "request_too_large"),
        (httpx.post(url, content=b"model=mock", headers={
            **auth(), "Content-Type": "application/x-www-form-urlencoded"}), 415,
         "unsupported_media_type"),
        (httpx.post(url, content=orjson.dumps(CHAT), headers=auth()), 415,
         "unsupported_media_type"),
        (httpx.get(url, headers=auth()), 405, "method_not_allowed"),
    ]
    for response, status, code in cases:
        assert response.status_code == status, response.text
        assert response.json()["error"]["code"] == code
    assert httpx.get(gw[0].url + "/nowhere").status_code == 404
    assert httpx.get(gw[0].url + "/healthz").status_code == 200
    assert _post(gw[0].url, CHAT, auth()).status_code == 200
    records = _stopped_log(gw[0], tmp_path)
    assert len(records) == len(cases) + 1
    assert all(validate_traffic_record(r) is None for r in records)


def test_contract_breaking_request_fields_still_give_valid_records(mock: Any, gw: Any,
                                                                   tmp_path: Path) -> None:
    odd = {"model": 7, "messages": "not a list", "temperature": "hot", "user": 42}
    response = _post(gw[0].url, odd, auth())
    assert response.status_code == 200  # the mock accepts anything; a real upstream says 400
    [record] = _stopped_log(gw[0], tmp_path)
    assert validate_traffic_record(record) is None
    assert record["gateway"]["invalid"]["request.messages"]["value"] == "not a list"


def test_every_record_is_valid_traffic_log_v1(mock: Any, gw: Any, tmp_path: Path) -> None:
    for path, body in [("/v1/chat/completions", CHAT),
                       ("/v1/chat/completions", {**CHAT, "stream": True}),
                       ("/v1/completions", {"model": "mock", "prompt": "p"}),
                       ("/v1/responses", {"model": "mock", "input": "p", "stream": True}),
                       ("/v1/embeddings", {"model": "mock", "input": "p"}),
                       ("/v1/chat/completions", {**CHAT, "model": "mock:status=500"})]:
        _post(gw[0].url, body, auth(), path=path)
    httpx.get(gw[0].url + "/v1/models", headers=auth())
    records = _stopped_log(gw[0], tmp_path)
    assert len(records) == 7
    for record in records:
        assert validate_traffic_record(record) is None, record
    responses = [r for r in records if r["endpoint"] == "/v1/responses"]
    assert responses[0]["response"]["output"][0]["content"][0]["text"]
    embeddings = [r for r in records if r["endpoint"] == "/v1/embeddings"]
    assert embeddings[0]["response"]["data_count"] == 1
