"""Counters on the hot path (plain dict increments) and their Prometheus text exposition."""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable

__all__ = ["Metrics", "render_prometheus"]

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            60.0)


class Metrics:
    """What the gateway counts; rendered on demand by the admin API."""

    def __init__(self) -> None:
        self.requests: defaultdict[tuple[str, int], int] = defaultdict(int)
        self.actions: defaultdict[str, int] = defaultdict(int)
        self.refusals: defaultdict[str, int] = defaultdict(int)
        self.upstream_errors: defaultdict[str, int] = defaultdict(int)
        self.latency_counts = [0] * (len(_BUCKETS) + 1)
        self.latency_sum = 0.0
        self.client_disconnects = 0

    def observe_call(self, endpoint: str, status: int, action: str, seconds: float) -> None:
        """Count one finished call."""
        self.requests[(endpoint, status)] += 1
        self.actions[action] += 1
        self.latency_counts[bisect.bisect_left(_BUCKETS, seconds)] += 1
        self.latency_sum += seconds

    def latency_lines(self) -> list[str]:
        """The latency histogram in exposition format."""
        name = "distillwatch_gateway_request_seconds"
        lines = [f"# HELP {name} Time from request arrival to the last byte sent.",
                 f"# TYPE {name} histogram"]
        total = 0
        for bound, count in zip(_BUCKETS, self.latency_counts, strict=False):
            total += count
            lines.append(f'{name}_bucket{{le="{bound}"}} {total}')
        total += self.latency_counts[-1]
        lines.append(f'{name}_bucket{{le="+Inf"}} {total}')
        lines.append(f"{name}_sum {self.latency_sum:.6f}")
        lines.append(f"{name}_count {total}")
        return lines


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render_prometheus(metrics: Metrics, gauges: Iterable[tuple[str, str, str, float]]) -> str:
    """Prometheus text format: the counters plus ``(name, type, help, value)`` gauges."""
    lines: list[str] = []

    def family(name: str, kind: str, help_text: str,
               samples: Iterable[tuple[str, float]]) -> None:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            lines.append(f"{name}{labels} {value:g}")

    family("distillwatch_gateway_requests_total", "counter", "Calls by endpoint and status.",
           [(f'{{endpoint="{_escape(e)}",status="{s}"}}', n)
            for (e, s), n in sorted(metrics.requests.items())])
    family("distillwatch_gateway_actions_total", "counter", "Calls by ladder action applied.",
           [(f'{{action="{a}"}}', n) for a, n in sorted(metrics.actions.items())])
    family("distillwatch_gateway_refusals_total", "counter",
           "Calls answered by the gateway itself, by reason.",
           [(f'{{reason="{_escape(r)}"}}', n) for r, n in sorted(metrics.refusals.items())])
    family("distillwatch_gateway_upstream_errors_total", "counter",
           "Upstream failures by kind (timeout, connect, broken stream).",
           [(f'{{kind="{k}"}}', n) for k, n in sorted(metrics.upstream_errors.items())])
    family("distillwatch_gateway_client_disconnects_total", "counter",
           "Calls whose client went away before the answer ended (upstream cancelled).",
           [("", metrics.client_disconnects)])
    lines.extend(metrics.latency_lines())
    for name, kind, help_text, value in gauges:
        family(name, kind, help_text, [("", value)])
    return "\n".join(lines) + "\n"
