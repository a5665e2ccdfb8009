"""``report.html``: a self-contained case file per flagged account, readable offline."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2

from distillwatch import __version__
from distillwatch.findings import AccountFinding, ClusterFinding
from distillwatch.link import EDGE_KINDS
from distillwatch.report._charts import cluster_svg, timeline_svg

__all__ = ["render_report", "write_report"]


def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("distillwatch.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = lambda v: "n/a" if v is None else f"{100 * v:.1f}%"
    env.filters["num"] = lambda v: "n/a" if v is None else f"{v:,.0f}"
    env.globals["timeline_svg"] = timeline_svg
    env.globals["cluster_svg"] = cluster_svg
    env.globals["edge_text"] = {k.name: k.text for k in EDGE_KINDS}
    return env


def render_report(findings: Sequence[AccountFinding], summary: dict[str, Any], *,
                  clusters: Sequence[ClusterFinding] = (),
                  generated_at: datetime | None = None) -> str:
    """The report as one HTML string (no external assets)."""
    when = (generated_at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    return _env().get_template("report.html.j2").render(
        findings=findings, clusters=clusters, summary=summary, generated_at=when,
        version=__version__)


def write_report(path: Path, findings: Sequence[AccountFinding], summary: dict[str, Any], *,
                 clusters: Sequence[ClusterFinding] = (),
                 generated_at: datetime | None = None) -> None:
    path.write_text(render_report(findings, summary, clusters=clusters,
                                  generated_at=generated_at), encoding="utf-8")
