"""The live scoring contract shared by ``watch`` and the gateway.

A live scorer takes traffic-log v1 records in time order (``observe``: score, then learn, so
each risk uses only calls up to and including the one it is raised at) and answers, in O(1),
where an account stands now (``risk_of``). The gateway reads ``risk_of`` on its hot path and
feeds records to ``observe`` in micro-batches off it, so scoring never delays a response.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["Alert", "LiveRisk", "LiveScorer"]


@dataclass(frozen=True)
class LiveRisk:
    """Where one account stands after the calls observed so far."""

    account_id: str
    risk: float
    reasons: tuple[str, ...]
    calls: int
    allowlisted: bool = False
    cluster_id: str | None = None


@dataclass(frozen=True)
class Alert:
    """One alert line of ``watch --alerts`` (the spec's fields, plus context)."""

    ts: str
    account_id: str
    request_id: str
    risk: float
    action: str
    reasons: tuple[str, ...]
    calls: int = 0
    output_tokens: int = 0
    cluster_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON object written per alert: the spec's six fields first."""
        out: dict[str, Any] = {
            "ts": self.ts, "account_id": self.account_id, "request_id": self.request_id,
            "risk": round(self.risk, 6), "action": self.action, "reasons": list(self.reasons),
            "calls": self.calls, "output_tokens": self.output_tokens,
        }
        if self.cluster_id is not None:
            out["cluster_id"] = self.cluster_id
        return out


class LiveScorer(Protocol):
    """What the gateway and ``watch`` need from an online detector."""

    def observe(self, records: Sequence[Mapping[str, Any]]) -> list[Alert]:
        """Score then learn ``records`` (traffic-log v1 dicts, in time order); new alerts."""
        ...

    def risk_of(self, account_id: str) -> LiveRisk | None:
        """The account's current standing, or None if it has made no call yet."""
        ...
