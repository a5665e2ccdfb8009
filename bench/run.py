"""Run the distillwatch detection benchmark and write bench/results/<size>.json.

    python bench/run.py --size small [--corpora PATH] [--workdir DIR] [--keep] [--json FILE]

The same runner as ``distillwatch bench``, usable while the CLI group is incomplete.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from distillwatch.bench import SIZES, BenchConfig, run_bench

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=SIZES, default="small")
    parser.add_argument("--corpora", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None, dest="json_path")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    run_bench(
        BenchConfig(
            size=args.size,
            corpora=args.corpora,
            json_path=args.json_path or RESULTS / f"{args.size}.json",
            workdir=args.workdir,
            keep=args.keep,
            command=[sys.executable, "bench/run.py", *(argv if argv is not None else sys.argv[1:])],
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
