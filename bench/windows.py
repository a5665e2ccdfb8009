"""Per-account false alarms and detection on scans of one day, one week and four weeks.

    python bench/windows.py [--corpora ../shared/data] [--large] [--workdir DIR] [--json FILE]

The bench suites cover 14 and 28 days; an operator may scan one day's logs. This simulates
populations over other window lengths and sizes (seeds 31, 33 and 41, never used for
training), computes their profiles as ``scan`` does, and scores every account with the
shipped model against its own population's baselines, before linking. ``--large`` adds one
day of 100,000 accounts (about 4M calls: half an hour here). Writes
``bench/results/windows.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from distillwatch.bench._metrics import tpr_at_fpr
from distillwatch.detect import HARVESTING, AccountScorer
from distillwatch.sim import simulate
from train_scorer import population_profiles

ROOT = Path(__file__).resolve().parent

#: (name, scenario, accounts, days, seed, real-corpus text)
POPULATIONS = (
    ("1 day, 6,000 accounts", "medium", 6000, 1, 31, False),
    ("1 day, 6,000 accounts, corpora", "medium", 6000, 1, 33, True),
    ("7 days, 6,000 accounts", "medium", 6000, 7, 31, False),
    ("7 days, 3,000 accounts", "medium", 3000, 7, 31, False),
    ("28 days, 3,000 accounts", "medium", 3000, 28, 31, False),
)
LARGE = ("1 day, 100,000 accounts", "large", 100_000, 1, 41, False)


def evaluate(sim_dir: Path, profiles_path: Path) -> dict[str, Any]:
    """Per-account verdicts of the shipped model against the simulator's labels."""
    labels = {}
    for line in (sim_dir / "labels.jsonl").read_text().splitlines():
        row = json.loads(line)
        labels[row["account_id"]] = (row["label"], row["profile"])
    profiles = pq.read_table(profiles_path)
    result = AccountScorer().fit(profiles).score(profiles)
    by_profile: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    risk, positive = [], []
    for account, verdict, r in zip(result.account_ids, result.verdicts, result.risk,
                                   strict=True):
        if account in labels:
            by_profile[labels[account]][verdict] += 1
            risk.append(float(r))
            positive.append(labels[account][0] == "harvester")
    def share(label: str) -> float:
        rows = [c for (lab, _), c in by_profile.items() if lab == label]
        n = sum(sum(c.values()) for c in rows)
        return sum(c[HARVESTING] for c in rows) / n if n else 0.0
    profiles_out = {f"{lab}/{prof}": {"accounts": sum(c.values()),
                                      "harvesting": c[HARVESTING] / sum(c.values())}
                    for (lab, prof), c in sorted(by_profile.items())}
    worst = max(((v["harvesting"], k) for k, v in profiles_out.items()
                 if k.startswith("benign/") and v["harvesting"] > 0), default=(0.0, "none"))
    point = tpr_at_fpr(risk, positive, 0.001)
    return {"benign_flagged": share("benign"), "harvesters_flagged": share("harvester"),
            "worst_benign_profile": {"profile": worst[1], "flagged": worst[0]},
            "tpr_at_fpr_0.1pct": point.tpr if point else None, "profiles": profiles_out}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", type=Path, default=ROOT.parents[1] / "shared" / "data")
    parser.add_argument("--large", action="store_true")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep populations' profiles here (reused by later runs)")
    parser.add_argument("--json", type=Path, default=ROOT / "results" / "windows.json")
    args = parser.parse_args()
    t0 = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or Path(tmp)
        for name, scenario, accounts, days, seed, corpora in (
                *POPULATIONS, *((LARGE,) if args.large else ())):
            sim_dir = work / f"{scenario}-a{accounts}-d{days}-s{seed}{'-c' if corpora else ''}"
            cached = sim_dir / "profiles.parquet"
            if not cached.exists():
                simulate(out=sim_dir, scenario=scenario, accounts=accounts, days=days, seed=seed,
                         corpora=args.corpora if corpora else None)
                pq.write_table(population_profiles(sim_dir, sim_dir / "calls.duckdb"), cached)
                (sim_dir / "calls.duckdb").unlink(missing_ok=True)
                (sim_dir / "traffic.jsonl.gz").unlink(missing_ok=True)
            row = {"population": name, "scenario": scenario, "accounts": accounts, "days": days,
                   "seed": seed, "text": "corpora" if corpora else "built-in",
                   **evaluate(sim_dir, cached)}
            rows.append(row)
            worst = row["worst_benign_profile"]
            print(f"{name:34s} benign {row['benign_flagged']:.2%} (worst {worst['profile']} "
                  f"{worst['flagged']:.1%})  harvesters {row['harvesters_flagged']:.1%}  "
                  f"TPR at FPR 0.1% {row['tpr_at_fpr_0.1pct']:.1%}", flush=True)
    result = {"benchmark": "windows", "date": datetime.now(UTC).strftime("%Y-%m-%d"),
              "python": platform.python_version(), "populations": rows,
              "seconds": round(time.perf_counter() - t0, 1),
              "command": [sys.executable, "bench/windows.py", *sys.argv[1:]]}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
