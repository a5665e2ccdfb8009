"""sim: labelled synthetic API traffic (benign, hard-negative and harvesting accounts).

``simulate(out, scenario=..., accounts=..., days=..., seed=..., corpora=...)`` writes
``traffic.jsonl.gz``, ``accounts.jsonl`` and ``labels.jsonl`` in the traffic-log v1 format.
See docs/simulator.md.
"""

from distillwatch.sim._profiles import HARD_NEGATIVES, PROFILES
from distillwatch.sim._run import SimSummary, simulate
from distillwatch.sim._scenarios import SCENARIOS, Scenario

__all__ = ["HARD_NEGATIVES", "PROFILES", "SCENARIOS", "Scenario", "SimSummary", "simulate"]
