"""Render benchmark results (bench/results/*.json) as Markdown for BENCHMARKS.md.

    python bench/markdown.py bench/results/small.json bench/results/medium.json
    python bench/markdown.py --compare BEFORE.json AFTER.json "label before" "label after"
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _pct(v: float | None, digits: int = 1) -> str:
    return "not available" if v is None else f"{100 * v:.{digits}f}%"


def _num(v: float | None, fmt: str = ",.0f") -> str:
    return "not available" if v is None else format(v, fmt)


def render(r: dict[str, Any]) -> str:
    s = r["suite"]
    acc = r["account_level"]
    out = [
        f"### `{r['size']}` suite, {'corpora' if r.get('corpora') else 'built-in text'}",
        "",
        f"Command: `{' '.join(Path(c).name if i == 0 else c for i, c in enumerate(r['command']))}`"
        f" · {r['date']} · {r['machine']['cores']} cores, "
        f"{r['machine']['memory_mib'] / 1024:.0f} GiB, {r['machine']['cpu_model']} · "
        f"seed {r['seed']} · {s['calls']:,} calls, {s['accounts']:,} accounts "
        f"({s['harvesters']} harvesters), {s['days']:.0f} days",
        "",
        "| account level | value |",
        "|---|---|",
        f"| AUROC of risk | {_num(acc['auroc']['value'], '.3f')} |",
    ]
    for op in acc["tpr_at_fpr"]:
        out.append(f"| TPR at FPR ≤ {100 * op['target_fpr']:g}% | {_pct(op['tpr'])} "
                   f"(FPR {_pct(op['fpr'], 2)}, {op['false_positives']} of {op['n_benign']} "
                   f"benign) |")
    v = acc["at_verdict"]
    out += [
        f"| verdict `harvesting` | TPR {_pct(v['tpr_harvesting'])}, "
        f"FPR {_pct(v['fpr_harvesting'], 2)} |",
        f"| verdict `suspicious` or `harvesting` | TPR {_pct(v['tpr_flagged'])}, "
        f"FPR {_pct(v['fpr_flagged'], 2)} |",
        "",
        "| profile | label | accounts | `harvesting` | `suspicious` or worse |",
        "|---|---|---|---|---|",
    ]
    for p in r["per_profile"]:
        label = p["label"] + (" (hard negative)" if p["hard_negative"] else "")
        out.append(f"| {p['profile']} | {label} | {p['n']} | {_pct(p['harvesting'])} | "
                   f"{_pct(p['flagged'])} |")
    rings = r["rings"]
    ari = rings["ari"]
    out += ["", f"Rings: adjusted Rand index {_num(ari.get('value'), '.3f')}"
                + (f" ({ari['why'].replace('(', '').replace(')', '')})" if ari.get("why")
                   else "")
                + "; share of each ring's members flagged: "
                + ", ".join(f"{c['members']} members {_pct(c['flagged_share'])}"
                            for c in rings["campaigns"]) + "."]
    ttd = r["time_to_detect"]
    whys = {row["why"].rstrip(".") for row in ttd["per_profile"] if row.get("why")}
    out += ["", "Time to detect (watch): " + ("not available: " + "; ".join(sorted(whys))
                                              if whys else "see the JSON file") + "."]
    out += ["", "| cost | wall | calls/s | peak memory |", "|---|---|---|---|"]
    for name in ("simulate", "scan", "watch"):
        c = r["cost"][name]
        if c.get("wall_s") is None:
            out.append(f"| {name} | not available | | |")
            continue
        out.append(f"| {name} | {c['wall_s']:.1f} s | {c['calls_per_s']:,.0f} | "
                   f"{c['peak_rss_mib']:,.0f} MiB |")
    return "\n".join(out) + "\n"


def compare(before: dict[str, Any], after: dict[str, Any], labels: tuple[str, str]) -> str:
    """Account-level figures of two runs side by side (e.g. without and with linking)."""
    def row(name: str, get: Callable[[dict[str, Any]], str]) -> str:
        return f"| {name} | {get(before)} | {get(after)} |"

    def verdict(r: dict[str, Any], key: str, digits: int = 1) -> str:
        return _pct(r["account_level"]["at_verdict"][key], digits)

    out = [f"| figure | {labels[0]} | {labels[1]} |", "|---|---|---|",
           row("TPR at FPR ≤ 0.1%", lambda r: _pct(r["account_level"]["tpr_at_fpr"][0]["tpr"])),
           row("verdict `harvesting`: TPR", lambda r: verdict(r, "tpr_harvesting")),
           row("verdict `harvesting`: FPR", lambda r: verdict(r, "fpr_harvesting", 2)),
           row("`suspicious` or worse: FPR", lambda r: verdict(r, "fpr_flagged", 2)),
           row("ring members at `harvesting`", lambda r: _pct(next(
               (p["harvesting"] for p in r["per_profile"] if p["profile"] == "ring"), None))),
           row("adjusted Rand index", lambda r: _num(r["rings"]["ari"].get("value"), ".3f")),
           row("scan wall time", lambda r: f"{r['cost']['scan']['wall_s']:.0f} s")]
    return "\n".join(out) + "\n"


def main() -> None:
    args = sys.argv[1:]
    if args and args[0] == "--compare":
        before, after = (json.loads(Path(p).read_text()) for p in args[1:3])
        labels = (args[3], args[4]) if len(args) > 4 else ("before", "after")
        print(compare(before, after, labels))
        return
    for path in args:
        print(render(json.loads(Path(path).read_text())))


if __name__ == "__main__":
    main()
