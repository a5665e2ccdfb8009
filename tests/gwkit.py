"""Test kit for the gateway: real servers on loopback, and an honest LiveScorer double."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import uvicorn

from distillwatch.detect import Alert, LiveRisk
from distillwatch.gateway import (
    GatewayApp,
    MockUpstream,
    bind_socket,
    create_app,
    hash_key,
    parse_config,
    server_config,
)
from distillwatch.ingest import expand_inputs, open_input

KEYS = {"acct_a": "sk-test-aaaaaaaaaaaaaaaaaaaa", "acct_b": "sk-test-bbbbbbbbbbbbbbbbbbbb",
        "acct_c": "sk-test-cccccccccccccccccccc", "acct_d": "sk-test-dddddddddddddddddddd"}
ADMIN_TOKEN = "admin-secret-token"


class CountingScorer:
    """A small, honest LiveScorer: an account's risk rises with its number of calls.

    ``risk = min(1, calls / ramp + boost[account])``; ``boost`` pins an account at a ladder
    step for a test. Alerts fire once when risk first reaches ``alert_at``.
    """

    def __init__(self, ramp: float = 1000.0, boost: Mapping[str, float] | None = None,
                 allowlisted: Sequence[str] = (), alert_at: float = 0.5,
                 cluster: Mapping[str, str] | None = None) -> None:
        self.ramp = ramp
        self.boost = dict(boost or {})
        self.allowlisted = set(allowlisted)
        self.alert_at = alert_at
        self.cluster = dict(cluster or {})
        self.calls: dict[str, int] = {}
        self.alerted: set[str] = set()
        self.seen_ids: list[str] = []

    def _risk(self, account: str) -> float:
        return min(1.0, self.calls.get(account, 0) / self.ramp + self.boost.get(account, 0.0))

    def observe(self, records: Sequence[Mapping[str, Any]]) -> list[Alert]:
        alerts = []
        for record in records:
            account = record["account_id"]
            self.calls[account] = self.calls.get(account, 0) + 1
            self.seen_ids.append(record["request_id"])
            risk = self._risk(account)
            if risk >= self.alert_at and account not in self.alerted:
                self.alerted.add(account)
                alerts.append(Alert(ts=record["ts"], account_id=account,
                                    request_id=record["request_id"], risk=risk,
                                    action="alert", reasons=("many_calls",),
                                    calls=self.calls[account]))
        return alerts

    def risk_of(self, account_id: str) -> LiveRisk | None:
        if account_id not in self.calls and account_id not in self.boost:
            return None
        return LiveRisk(account_id, self._risk(account_id), ("many_calls",),
                        self.calls.get(account_id, 0),
                        allowlisted=account_id in self.allowlisted,
                        cluster_id=self.cluster.get(account_id))

    def save(self, path: Path) -> None:
        path.write_bytes(orjson.dumps({"ramp": self.ramp, "boost": self.boost,
                                       "calls": self.calls, "alerted": sorted(self.alerted)}))

    @classmethod
    def load(cls, path: Path) -> CountingScorer:
        data = orjson.loads(path.read_bytes())
        scorer = cls(ramp=data["ramp"], boost=data["boost"])
        scorer.calls = data["calls"]
        scorer.alerted = set(data["alerted"])
        return scorer


def counting_scorer(options: Mapping[str, Any], state: Path | None
                    ) -> tuple[CountingScorer, bool]:
    """A scorer-process factory (``gwkit:counting_scorer``): CountingScorer(**options),
    restored from ``state`` when saved."""
    from distillwatch.gateway import restore_or_create

    return restore_or_create(CountingScorer.load, lambda: CountingScorer(**options), state)


def write_keys(path: Path, keys: Mapping[str, str] = KEYS) -> Path:
    path.write_text("".join(orjson.dumps({"account_id": a, "key_sha256": hash_key(k)}).decode()
                            + "\n" for a, k in keys.items()))
    return path


class ServerThread:
    """uvicorn in a thread on a pre-bound ephemeral 127.0.0.1 socket."""

    def __init__(self, app: Any) -> None:
        self.sock = bind_socket("127.0.0.1", 0)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(server_config(app, port=self.port, loop="asyncio",
                                                   log_level="error"))
        self.thread = threading.Thread(target=self.server.run,
                                       kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.sock.close()


def gateway_config(target: str, tmp: Path, /, **extra: Any) -> Any:
    """A config for tests: keys file, log dir, admin token hash; ``extra`` merged on top."""
    data: dict[str, Any] = {
        "upstream": {"url": target, "read_timeout": 5.0},
        "keys": str(write_keys(tmp / "keys.jsonl")),
        "log": {"dir": str(tmp / "log"), "flush_interval": 0.05},
        "admin": {"token_sha256": hash_key(ADMIN_TOKEN)},
        "scoring": {"batch_max": 64},
    }
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return parse_config(data)


@contextmanager
def running_gateway(target: str, tmp: Path, /, *, scorer: Any = None,
                    canary: Callable[[str, str, str], str] | None = None,
                    **extra: Any) -> Iterator[tuple[ServerThread, GatewayApp]]:
    """Start a gateway in front of ``target``; stops it (and flushes the log) on exit."""
    app = create_app(gateway_config(target, tmp, **extra), scorer=scorer, canary=canary)
    with ServerThread(app) as server:
        yield server, app


@contextmanager
def process_gateway(target: str, tmp: Path, /, *, factory: str = "gwkit:counting_scorer",
                    options: Mapping[str, Any] | None = None,
                    canary: Callable[[str, str, str], str] | None = None,
                    **extra: Any) -> Iterator[tuple[ServerThread, GatewayApp]]:
    """A gateway whose scorer runs in a scorer process built by ``factory(options, state)``."""
    from distillwatch.gateway import ScorerSpec

    # ordinary priority unless a test asks for the default (idle): the tests that check when
    # the ladder moves must not depend on how busy the machine running them is
    scoring = {"tick": 0.01, "process_idle": False, **extra.pop("scoring", {})}
    config = gateway_config(target, tmp, scoring=scoring, **extra)
    app = create_app(config, canary=canary,
                     scorer_process=ScorerSpec(factory=factory, options=dict(options or {})))
    with ServerThread(app) as server:
        yield server, app


@contextmanager
def running_mock() -> Iterator[tuple[ServerThread, MockUpstream]]:
    mock = MockUpstream()
    with ServerThread(mock) as server:
        yield server, mock


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def wait_scored(app: GatewayApp, n: int) -> None:
    """Wait until the background scorer has observed ``n`` calls."""
    wait_for(lambda: app.state.feed is not None and app.state.feed.observed >= n)


def read_log(directory: Path) -> list[dict[str, Any]]:
    """Every traffic record the gateway wrote, through distillwatch's own input reader."""
    records = []
    for name in expand_inputs([str(directory)]):
        with open_input(name) as stream:
            records.extend(orjson.loads(line) for line in stream if line.strip())
    return records


def auth(account: str = "acct_a") -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[account]}"}


def admin() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def redis_server() -> Iterator[str]:
    """A real redis-server on a free loopback port (no persistence)."""
    import shutil

    import pytest

    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    for _ in range(5):
        port = free_port()
        proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1",
                                 "--save", "", "--appendonly", "no"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        if proc.poll() is None:
            try:
                yield f"redis://127.0.0.1:{port}"
            finally:
                proc.terminate()
                proc.wait(timeout=10)
            return
    raise RuntimeError("could not start redis-server")


def run(coro: Any) -> Any:
    return asyncio.run(coro)
