"""Render bench/results/gateway.json as the Markdown tables of BENCHMARKS.md's Gateway section.

    python bench/gateway/markdown.py [bench/results/gateway.json]
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson

DEFAULT = Path(__file__).resolve().parents[1] / "results" / "gateway.json"


def _ms(value: Any) -> str:
    return "" if value is None else f"{value:,.2f}"


def render(report: dict[str, Any]) -> str:
    out = []
    machine = report["machine"]
    out.append(f"Run {report['date']}: {machine['cpu']}, {machine['cores']} cores, Python "
               f"{machine['python']}; load average {machine['loadavg_at_start'][0]} at start "
               f"({machine['shared']}). {report['layout']}. Gateway scoring: "
               f"{report['gateway_scoring']}. Versions: "
               + ", ".join(f"{k} {v}" for k, v in report["versions"].items()) + ".")
    out.append("")
    if report.get("repeats", 1) > 1:
        out.append(f"Each latency cell ran {report['repeats']} times, the proxies interleaved "
                   "(LiteLLM once): medians, and the added p99 of each run in the last "
                   "column.")
        out.append("")
    out.append("| mode | target RPS | proxy | p50 ms | p99 ms | added p50 ms | added p99 ms | "
               "achieved RPS | proxy CPU µs/call | scorer CPU µs/call | load (1 min) | "
               "sustained | added p99 ms, each run |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for row in report["latency"]:
        out.append(
            f"| {'stream' if row['stream'] else 'json'} | {row['target_rps']:,.0f} | "
            f"{row['target']} | {_ms(row['p50_ms'])} | {_ms(row['p99_ms'])} | "
            f"{_ms(row.get('added_p50_ms'))} | {_ms(row.get('added_p99_ms'))} | "
            f"{row['achieved_rps']:,.0f} | {row['cpu_us_per_call']:,.0f} | "
            f"{_us(row.get('scorer_cpu_us_per_call'))} | {_ms(row.get('loadavg_1m'))} | "
            f"{'yes' if row['sustained'] else '**no**'} | "
            f"{', '.join(_ms(x) for x in row.get('added_p99_runs_ms', []))} |")
    out.append("")
    out.append("| proxy | most RPS before latency bends (measured) | CPU µs per call (median) | "
               "CPU-bound RPS on one core | scorer process CPU µs per call (median) |")
    out.append("|---|---|---|---|---|")
    for name, data in report["max_rps"].items():
        out.append(f"| {name} | {data['max_rps_before_bend']:,} | "
                   f"{data['cpu_us_per_call_median']:,.0f} | "
                   f"{data['cpu_bound_rps_one_core']:,} | "
                   f"{_us(data.get('scorer_cpu_us_per_call_median'))} |")
    out.append("")
    out.append("| step (json) | achieved RPS | p99 ms | proxy CPU µs/call | scorer CPU µs/call "
               "| load (1 min) | holds |")
    out.append("|---|---|---|---|---|---|---|")
    for row in report["max_rps"].get("distillwatch", {}).get("steps", []):
        out.append(f"| {row['target_rps']:,.0f} | {row['achieved_rps']:,.0f} | "
                   f"{_ms(row['p99_ms'])} | {row['cpu_us_per_call']:,.0f} | "
                   f"{_us(row.get('scorer_cpu_us_per_call'))} | {_ms(row.get('loadavg_1m'))} "
                   f"| {'yes' if row['holds'] else '**no**'} |")
    out.append("")
    out.append("| upstream fault (through the gateway) | calls | direct outcome | gateway outcome "
               "| faithful |")
    out.append("|---|---|---|---|---|")
    for row in report["faults"]:
        out.append(f"| {row['case']} | {row['sent']} | {_counts(row['direct_outcomes'])} | "
                   f"{_counts(row['gateway_outcomes'])} | "
                   f"{'yes' if row['faithful'] else '**no**'} |")
    check = report["log_check"]
    out.append("")
    out.append(f"Traffic log after SIGTERM: {check['records']:,} records for "
               f"{check['sent_through_gateway']:,} calls sent through the gateway (every phase "
               f"above, overloads and faults included), {check['invalid_records']} invalid "
               f"(checked with `validate_traffic_record`), {check['files']} file(s); "
               f"no record lost: {'yes' if check['no_record_lost'] else '**no**'}.")
    health = report.get("gateway_scoring_health")
    if health:
        process = health.get("process") or {}
        out.append("")
        out.append(f"Scoring before shutdown: {health['observed']:,} calls scored, "
                   f"{health.get('unscored', 0):,} counted unscored, "
                   f"{health['queue_depth']:,} waiting; scorer process restarts: "
                   f"{process.get('restarts', 'n/a')}.")
    return "\n".join(out) + "\n"


def _us(value: Any) -> str:
    return "" if value is None else f"{value:,.0f}"


def _counts(outcomes: dict[str, int]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items()))


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    path = Path(args[0]) if args else DEFAULT
    sys.stdout.write(render(orjson.loads(path.read_bytes())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
