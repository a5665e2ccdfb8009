"""The case file a probe leaves: ``evidence.json``, ``evidence.html`` and ``transcript.jsonl``.

Chain of custody: the transcript holds every probe and response verbatim; ``evidence.json``
holds the sha256 of each (and of the transcript and every case file), with the time each was
sent and received. Keys never appear: only key ids and secret ids.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
import orjson

from distillwatch import __version__
from distillwatch.forensics._case import Case, load_case
from distillwatch.forensics._client import SuspectClient
from distillwatch.forensics._keys import KeyRing
from distillwatch.forensics._probe import ProbeConfig, Progress, TestRecord, run_probe

__all__ = [
    "EVIDENCE_FORMAT",
    "ProbeRun",
    "build_evidence",
    "probe_case",
    "render_evidence_html",
    "write_case_outputs",
]

EVIDENCE_FORMAT = "distillwatch-forensics-evidence/1"


@dataclass(frozen=True)
class ProbeRun:
    case: Case
    client: SuspectClient
    ring: KeyRing
    config: ProbeConfig
    records: Sequence[TestRecord]
    started_at: datetime
    finished_at: datetime


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def transcript_bytes(client: SuspectClient) -> bytes:
    return b"".join(orjson.dumps({**e.record(), "probe": e.probe.decode("utf-8", "replace"),
                                  "response": e.response.decode("utf-8", "replace")}) + b"\n"
                    for e in client.exchanges)


def _findings(records: Sequence[TestRecord], accounts: Sequence[str]) -> list[dict[str, Any]]:
    out = []
    for account in accounts:
        mine = [r for r in records if r.account_id == account and r.role == "evidence"]
        best = min(mine, key=lambda r: r.p_holm, default=None)
        out.append({
            "account_id": account,
            "named": any(r.significant for r in mine),
            "strongest_test": best.test if best else None,
            "p_holm": best.p_holm if best else None,
            "significant_tests": [r.test for r in mine if r.significant],
        })
    return out


def build_evidence(run: ProbeRun) -> dict[str, Any]:
    """The evidence document (what ``evidence.json`` holds)."""
    transcript = transcript_bytes(run.client)
    corroborating = [r for r in run.records if r.role == "corroboration" and r.significant]
    return {
        "format": EVIDENCE_FORMAT,
        "tool": {"name": "distillwatch", "version": __version__},
        "case_id": run.case.case_id,
        "suspect": {"url": run.client.base_url, "model": run.client.model,
                    "api": run.client.api},
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
        "alpha": run.config.alpha,
        "correction": "Holm over every test and account in this file",
        "budget": {"limit": run.client.budget, "spent": run.client.spent,
                   "rate_per_second": run.client.rate},
        "secret_ids": {str(v): s for v, s in run.ring.secret_ids().items()},
        "findings": _findings(run.records, run.case.accounts),
        "corroborated": bool(corroborating),
        "tests": [r.to_json() for r in run.records],
        "case_files": dict(sorted(run.case.files.items())),
        "transcript": {"file": "transcript.jsonl", "exchanges": len(run.client.exchanges),
                       "sha256": hashlib.sha256(transcript).hexdigest()},
        "exchanges": [e.record() for e in run.client.exchanges],
    }


def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("distillwatch.forensics", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["p"] = lambda v: "n/a" if v is None else ("1" if v >= 1 else f"{v:.3g}")
    env.filters["stat"] = lambda d: ", ".join(f"{k}: {v}" for k, v in d.items())
    return env


def render_evidence_html(evidence: dict[str, Any]) -> str:
    """A self-contained HTML rendering of the evidence document (no external assets)."""
    return _env().get_template("evidence.html.j2").render(ev=evidence)


def write_case_outputs(folder: Path, run: ProbeRun) -> dict[str, Any]:
    """Write transcript.jsonl, evidence.json and evidence.html into the case folder."""
    evidence = build_evidence(run)
    (folder / "transcript.jsonl").write_bytes(transcript_bytes(run.client))
    (folder / "evidence.json").write_bytes(orjson.dumps(evidence, option=orjson.OPT_INDENT_2))
    (folder / "evidence.html").write_text(render_evidence_html(evidence), encoding="utf-8")
    return evidence


def probe_case(folder: Path, client: SuspectClient, ring: KeyRing,
               config: ProbeConfig | None = None, progress: Progress | None = None,
               clock: Callable[[], datetime] | None = None) -> dict[str, Any]:
    """Load the case in ``folder``, probe the suspect, write the case outputs; the evidence."""
    now = clock or (lambda: datetime.now(UTC))
    cfg = config or ProbeConfig()
    case = load_case(folder)
    started = now()
    records = run_probe(case, client, ring, cfg, progress)
    return write_case_outputs(folder, ProbeRun(case, client, ring, cfg, records, started, now()))
