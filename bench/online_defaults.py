"""Write the online detector's starting baselines (src/distillwatch/detect/online_defaults.json).

    python bench/online_defaults.py [--scenario small] [--seed 101]

Until a live population is large enough to give its own baselines (``OnlineConfig.
min_population`` accounts), ``watch`` and the gateway compare accounts with these: the robust
baselines of the log indicators and the median of every indicator over a simulated population
(a training seed, never a benchmark seed), exactly as ``scan`` would fit them.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from distillwatch.detect import AccountScorer
from distillwatch.sim import simulate
from train_scorer import population_profiles

OUT = Path(__file__).resolve().parents[1] / "src/distillwatch/detect/online_defaults.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="small")
    parser.add_argument("--seed", type=int, default=101)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sim_dir = Path(tmp) / "sim"
        simulate(out=sim_dir, scenario=args.scenario, seed=args.seed)
        profiles = population_profiles(sim_dir, Path(tmp) / "db.duckdb")
    scorer = AccountScorer().fit(profiles)
    data = {
        "provenance": {"made_by": "bench/online_defaults.py", "scenario": args.scenario,
                       "seed": args.seed, "accounts": profiles.num_rows,
                       "text": "built-in generator"},
        "baselines": {k: [round(m, 6), round(s, 6)] for k, (m, s) in
                      sorted(scorer.baselines_.items())},
        "medians": {k: (round(v, 6) if v == v else 0.0) for k, v in
                    sorted(scorer.raw_medians_.items())},
    }
    args.out.write_text(json.dumps(data, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
