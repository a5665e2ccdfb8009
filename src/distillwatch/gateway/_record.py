"""What the handler learns about one call, and the traffic-log record it becomes."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from itertools import count
from typing import Any, Final

from distillwatch.gateway._keys import Identity
from distillwatch.gateway._policy import Decision
from distillwatch.gateway._sse import StreamAssembler
from distillwatch.ingest import validate_traffic_record

__all__ = ["Call", "new_request_id"]

_log = logging.getLogger("distillwatch.gateway")
_BOOT: Final = os.urandom(4).hex()
_ids = count(1)


def new_request_id() -> str:
    """A unique id: a random per-process prefix and a counter."""
    return f"dw-{_BOOT}-{next(_ids):x}"


@dataclass
class Call:
    """What the handler learns about one call; becomes the traffic-log record."""

    started: float
    ts: str
    request_id: str
    endpoint: str
    identity: Identity
    client_ip: str | None
    user_agent: str | None
    request: dict[str, Any] = field(default_factory=dict)
    status: int = 0
    response: Any = None
    decision: Decision | None = None
    changes: list[str] = field(default_factory=list)
    error: Any = None
    upstream_ms: float | None = None
    body_bytes: int = 0
    forward: bytes | None = None
    responded: bool = False
    """True once the response has started (a later failure can only break the connection)."""
    stream: StreamAssembler | None = None
    """The stream read so far (a broken stream logs what it delivered)."""
    """The body sent upstream: the client's bytes, or the degraded rewrite."""
    finished: bool = False

    def record(self) -> dict[str, Any]:
        """The traffic-log v1 record (plus a ``gateway`` object scanners ignore)."""
        latency = (time.perf_counter() - self.started) * 1000.0
        rec: dict[str, Any] = {
            "ts": self.ts, "request_id": self.request_id,
            "account_id": self.identity.account_id, "key_id": self.identity.key_id,
            "endpoint": self.endpoint, "status": self.status,
            "latency_ms": round(latency, 3), "request": self.request,
            "response": self.response if 200 <= self.status < 300 else None,
        }
        user = self.request.get("user")
        if isinstance(user, str):
            rec["user"] = user
        if self.client_ip:
            rec["client_ip"] = self.client_ip
        if self.user_agent:
            rec["user_agent"] = self.user_agent
        gw: dict[str, Any] = {}
        if self.decision is not None:
            gw["action"] = self.decision.action
            gw["source"] = self.decision.source
            if self.decision.risk is not None:
                gw["risk"] = round(self.decision.risk, 6)
            if self.decision.reasons:
                gw["reasons"] = list(self.decision.reasons)
        if self.changes:
            gw["changes"] = self.changes
        if self.error is not None:
            gw["error"] = self.error
        if self.upstream_ms is not None:
            gw["upstream_ms"] = round(self.upstream_ms, 3)
        if not self.identity.known:
            gw["key"] = "unknown"
        rec["gateway"] = gw
        _ensure_valid(rec)
        return rec


def _ensure_valid(rec: dict[str, Any]) -> None:
    """Keep the record valid traffic-log v1 whatever the client sent.

    A request field that breaks the contract (say ``messages`` that is not a list) moves to
    ``gateway.invalid`` so the record still parses everywhere; nothing is silently lost.
    """
    for _ in range(8):
        problem = validate_traffic_record(rec)
        if problem is None:
            return
        where, message = problem
        invalid = rec["gateway"].setdefault("invalid", {})
        if where.startswith("request.") and isinstance(rec["request"], dict):
            top = where.split(".", 2)[1].split("[", 1)[0]
            rec["request"] = dict(rec["request"])
            invalid[f"request.{top}"] = {"problem": message,
                                         "value": rec["request"].pop(top, None)}
        elif where.startswith("response"):
            invalid["response"] = {"problem": message, "value": rec["response"]}
            rec["response"] = None
        elif where == "request":
            invalid["request"] = {"problem": message, "value": rec["request"]}
            rec["request"] = {}
        elif where in ("key_id", "user", "client_ip", "user_agent"):
            invalid[where] = {"problem": message, "value": rec.pop(where)}
        else:  # a bug of ours, not the client's: say so loudly
            _log.error("gateway produced an invalid traffic record (%s: %s)", where, message)
            return
