"""Talking to a suspect: an OpenAI-compatible endpoint, a query budget, a rate limit, and a
transcript of every exchange (its bytes hashed, its times stamped) for the chain of custody."""

from __future__ import annotations

import hashlib
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from distillwatch.errors import ConfigError, DistillwatchError

__all__ = ["BudgetExhausted", "Exchange", "SuspectClient", "Transport", "http_transport"]

Transport = Callable[[str, bytes], bytes]


class BudgetExhausted(DistillwatchError):
    """The query budget is spent; tests report what they gathered so far."""


class SuspectError(DistillwatchError):
    """The suspect endpoint failed or answered something that is not a completion."""


@dataclass(frozen=True)
class Exchange:
    """One request and its response, with hashes of the exact bytes sent and received."""

    seq: int
    test: str
    endpoint: str
    sent_at: str
    received_at: str
    completions: int
    probe_sha256: str
    response_sha256: str
    probe: bytes = field(repr=False)
    response: bytes = field(repr=False)

    def record(self) -> dict[str, Any]:
        return {"seq": self.seq, "test": self.test, "endpoint": self.endpoint,
                "sent_at": self.sent_at, "received_at": self.received_at,
                "completions": self.completions, "probe_sha256": self.probe_sha256,
                "response_sha256": self.response_sha256}


def http_transport(timeout: float = 60.0) -> Transport:
    """POST JSON with the standard library (one request at a time, as the rate limit wants)."""

    def post(url: str, body: bytes) -> bytes:
        req = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return bytes(resp.read())
        except urllib.error.HTTPError as exc:
            raise SuspectError(f"{url} answered HTTP {exc.code}: "
                               f"{exc.read()[:200].decode(errors='replace')}") from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            raise SuspectError(f"cannot reach {url}: {exc}") from None

    return post


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class SuspectClient:
    """Completions from one suspect model, within a budget of generated completions."""

    def __init__(self, base_url: str, model: str, *, api: str = "completions",
                 budget: int | None = None, rate: float | None = None,
                 transport: Transport | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        if api not in ("completions", "chat"):
            raise ConfigError(f"api must be 'completions' or 'chat', got {api!r}")
        if budget is not None and budget < 1:
            raise ConfigError("the query budget must be at least 1")
        self.base_url = base_url.rstrip("/")
        if not self.base_url.endswith("/v1"):
            self.base_url += "/v1"
        self.model = model
        self.api = api
        self.budget = budget
        self.rate = rate
        self.spent = 0
        self.exchanges: list[Exchange] = []
        self._post = transport or http_transport()
        self._clock = clock or (lambda: datetime.now(UTC))
        self._last = 0.0

    def remaining(self) -> int | None:
        return None if self.budget is None else self.budget - self.spent

    def complete(self, prompt: str, *, test: str, max_tokens: int, temperature: float = 0.0,
                 n: int = 1, seed: int | None = None) -> list[str]:
        """``n`` completions of ``prompt`` (each counts against the budget)."""
        if self.budget is not None and self.spent + n > self.budget:
            raise BudgetExhausted(f"query budget of {self.budget} spent")
        body: dict[str, Any] = {"model": self.model, "max_tokens": max_tokens,
                                "temperature": temperature, "n": n}
        if seed is not None:
            body["seed"] = seed
        if self.api == "chat":
            body["messages"] = [{"role": "user", "content": prompt}]
            url = f"{self.base_url}/chat/completions"
        else:
            body["prompt"] = prompt
            url = f"{self.base_url}/completions"
        probe = orjson.dumps(body)
        if self.rate:
            wait = self._last + 1.0 / self.rate - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        self._last = time.monotonic()
        sent = self._clock()
        raw = self._post(url, probe)
        received = self._clock()
        self.spent += n
        self.exchanges.append(Exchange(
            len(self.exchanges) + 1, test, url, _iso(sent), _iso(received), n,
            hashlib.sha256(probe).hexdigest(), hashlib.sha256(raw).hexdigest(), probe, raw))
        return self._texts(raw, url)

    def _texts(self, raw: bytes, url: str) -> list[str]:
        try:
            obj = orjson.loads(raw)
            choices = obj["choices"]
            if self.api == "chat":
                return [str(c["message"]["content"] or "") for c in choices]
            return [str(c["text"]) for c in choices]
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise SuspectError(f"{url} did not return completions ({exc!r}): "
                               f"{raw[:200].decode(errors='replace')}") from None
