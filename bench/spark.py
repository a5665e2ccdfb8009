"""DuckDB and Spark side by side on a bench suite (the same runner as
``distillwatch bench --engine spark``).

    python bench/spark.py [--size small|medium|10m] [--master local[2]] [--workdir DIR]
                           [--json FILE]

Writes bench/results/spark-<size>.json.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from distillwatch.bench import run_engine_bench
from distillwatch.bench._engines import ENGINE_SUITES

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(ENGINE_SUITES), default="small",
                        help="small, medium, or 10m (the medium mix over 9,000 accounts)")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    run_engine_bench(args.size, master=args.master, workdir=args.workdir,
                     json_path=args.json or RESULTS / f"spark-{args.size}.json",
                     command=" ".join([sys.executable, "bench/spark.py", *sys.argv[1:]]))


if __name__ == "__main__":
    main()
