"""Small inline SVG charts, so the report needs no script and no server."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from typing import Any

__all__ = ["cluster_svg", "timeline_svg"]


def timeline_svg(points: Sequence[dict[str, Any]], *, width: int = 640, height: int = 140) -> str:
    """Bars of calls per day with a line of output tokens per day on a second scale."""
    if not points:
        return '<p class="muted">no timeline</p>'
    pad_l, pad_b, pad_t = 44, 22, 10
    inner_w, inner_h = width - pad_l - 8, height - pad_b - pad_t
    max_calls = max(p["calls"] for p in points) or 1
    max_tok = max(p["completion_tokens"] for p in points) or 1
    step = inner_w / len(points)
    bar_w = max(1.0, step * 0.8)
    parts = [f'<svg class="timeline" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="calls and output tokens per day">']
    for i, p in enumerate(points):
        h = inner_h * p["calls"] / max_calls
        x = pad_l + i * step
        parts.append(f'<rect x="{x:.1f}" y="{pad_t + inner_h - h:.1f}" width="{bar_w:.1f}" '
                     f'height="{h:.1f}" class="bar"><title>{escape(p["day"])}: {p["calls"]:,} '
                     f'calls, {int(p["completion_tokens"]):,} output tokens</title></rect>')
    line = " ".join(
        f'{pad_l + i * step + bar_w / 2:.1f},'
        f'{pad_t + inner_h - inner_h * p["completion_tokens"] / max_tok:.1f}'
        for i, p in enumerate(points))
    parts.append(f'<polyline points="{line}" class="line"/>')
    parts.append(f'<text x="4" y="{pad_t + 8}" class="axis">{max_calls:,}</text>')
    parts.append(f'<text x="4" y="{pad_t + inner_h}" class="axis">0</text>')
    parts.append(f'<text x="{pad_l}" y="{height - 6}" class="axis">{escape(points[0]["day"])}'
                 f'</text>')
    parts.append(f'<text x="{width - 8}" y="{height - 6}" class="axis" text-anchor="end">'
                 f'{escape(points[-1]["day"])}</text>')
    parts.append("</svg>")
    return "".join(parts)


_VERDICT_CLASS = {"harvesting": "node-bad", "suspicious": "node-warn"}


def cluster_svg(members: Sequence[str], edges: Sequence[Any], verdicts: dict[str, str], *,
                max_nodes: int = 80, size: int = 420) -> str:
    """Members on a circle (at most ``max_nodes``, the best connected), edges as lines.

    Deterministic and script-free: nodes are ordered by degree then id, so the picture is the
    same in every run; a line's opacity follows its edge's score.
    """
    degree: dict[str, int] = {m: 0 for m in members}
    for e in edges:
        degree[e.src] = degree.get(e.src, 0) + 1
        degree[e.dst] = degree.get(e.dst, 0) + 1
    shown = sorted(members, key=lambda m: (-degree.get(m, 0), m))[:max_nodes]
    r = size / 2 - 16
    pos = {m: (size / 2 + r * math.cos(2 * math.pi * i / max(len(shown), 1)),
               size / 2 + r * math.sin(2 * math.pi * i / max(len(shown), 1)))
           for i, m in enumerate(sorted(shown))}
    top = max((e.score for e in edges), default=1.0) or 1.0
    parts = [f'<svg class="cluster" viewBox="0 0 {size} {size}" role="img" '
             f'aria-label="linked accounts and the edges between them">']
    for e in sorted(edges, key=lambda e: (e.score, e.src, e.dst)):
        if e.src in pos and e.dst in pos:
            (x1, y1), (x2, y2) = pos[e.src], pos[e.dst]
            parts.append(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
                         f'class="edge" stroke-opacity="{0.15 + 0.6 * e.score / top:.2f}"/>')
    for m in sorted(shown):
        x, y = pos[m]
        css = _VERDICT_CLASS.get(verdicts.get(m, ""), "node")
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" class="{css}">'
                     f'<title>{escape(m)} ({escape(verdicts.get(m, "normal"))})</title></circle>')
    parts.append("</svg>")
    if len(members) > len(shown):
        parts.append(f'<p class="muted">showing the {len(shown)} best-connected of '
                     f'{len(members)} members</p>')
    return "".join(parts)
