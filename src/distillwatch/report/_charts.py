"""Small inline SVG charts, so the report needs no script and no server."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

__all__ = ["timeline_svg"]


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
