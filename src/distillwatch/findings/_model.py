"""Findings: frozen evidence objects with stable ids, rendered by the report stage."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from distillwatch.link import Edge

__all__ = ["AccountFinding", "ClusterFinding", "Example", "ReasonEvidence", "finding_id"]


def finding_id(kind: str, subject: str, first_seen: str, last_seen: str) -> str:
    """Stable id: the same subject over the same window always gets the same id."""
    digest = hashlib.sha256(f"{kind}|{subject}|{first_seen}|{last_seen}".encode()).hexdigest()
    return f"dw-{kind[:3]}-{digest[:16]}"


@dataclass(frozen=True)
class ReasonEvidence:
    """A reason code with what was measured and what the population looks like."""

    code: str
    description: str
    value: float | None
    baseline: float | None
    contribution: float

    def properties(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "description": self.description,
            "value": self.value,
            "population_median": self.baseline,
            "contribution": round(self.contribution, 4),
        }


@dataclass(frozen=True)
class Example:
    """One call shown as evidence (text already bounded, secret-free, maybe redacted)."""

    request_id: str
    ts: str
    model: str | None
    system: str | None
    prompt: str | None
    response: str | None
    params: dict[str, Any]

    def properties(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "ts": self.ts,
            "model": self.model,
            "system": self.system,
            "prompt": self.prompt,
            "response": self.response,
            "params": self.params,
        }


@dataclass(frozen=True)
class AccountFinding:
    """Why one account was flagged: risk, reasons, volume, timeline and example calls."""

    account_id: str
    risk: float
    verdict: str
    reasons: tuple[ReasonEvidence, ...]
    stats: dict[str, Any]
    timeline: tuple[dict[str, Any], ...] = ()
    examples: tuple[Example, ...] = ()
    cluster_id: str | None = None
    #: Why the verdict is milder than the risk alone would give (allowlist, too few calls).
    note: str | None = None
    name: str = field(default="account", init=False)

    @property
    def id(self) -> str:
        return finding_id("account", self.account_id, str(self.stats.get("first_seen")),
                          str(self.stats.get("last_seen")))

    def properties(self) -> dict[str, Any]:
        return {
            "finding_id": self.id,
            "kind": self.name,
            "account_id": self.account_id,
            "cluster_id": self.cluster_id,
            "risk": round(self.risk, 6),
            "verdict": self.verdict,
            "reasons": [r.properties() for r in self.reasons],
            "stats": self.stats,
            "timeline": list(self.timeline),
            "examples": [e.properties() for e in self.examples],
            **({"note": self.note} if self.note else {}),
        }


@dataclass(frozen=True)
class ClusterFinding:
    """A linked group scored as one operation: members, why they belong together, totals."""

    cluster_id: str
    risk: float
    verdict: str
    members: tuple[str, ...]
    member_verdicts: dict[str, str]
    edges_by_kind: dict[str, int]
    strongest_edges: tuple[Edge, ...]
    reasons: tuple[ReasonEvidence, ...]
    stats: dict[str, Any]
    edges: tuple[Edge, ...] = ()
    name: str = field(default="cluster", init=False)

    @property
    def id(self) -> str:
        return finding_id("cluster", self.cluster_id, str(self.stats.get("first_seen")),
                          str(self.stats.get("last_seen")))

    def properties(self) -> dict[str, Any]:
        return {
            "finding_id": self.id,
            "kind": self.name,
            "cluster_id": self.cluster_id,
            "risk": round(self.risk, 6),
            "verdict": self.verdict,
            "members": list(self.members),
            "member_verdicts": self.member_verdicts,
            "edges_by_kind": self.edges_by_kind,
            "strongest_edges": [e.properties() for e in self.strongest_edges],
            "reasons": [r.properties() for r in self.reasons],
            "stats": self.stats,
        }
