"""Run the forensics benchmark on the n-gram lab: print a table, write bench/results/forensics.json.

    python bench/forensics.py [--data ../shared/data] [--filler-tokens N] [--probe-tokens N]
        [--clean-students N] [--wrong-keys N] [--workdir DIR] [--json FILE]

The same runner as ``distillwatch bench --forensics``. Needs the public corpora.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from distillwatch.forensics.lab.bench import run_and_report

ROOT = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parents[1] / "shared" / "data")
    parser.add_argument("--filler-tokens", type=int, default=300_000)
    parser.add_argument("--probe-tokens", type=int, default=200_000)
    parser.add_argument("--clean-students", type=int, default=8)
    parser.add_argument("--wrong-keys", type=int, default=25)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=ROOT / "results" / "forensics.json")
    args = parser.parse_args(argv)
    run_and_report(args.data, json_path=args.json, workdir=args.workdir,
                   filler_tokens=args.filler_tokens, probe_tokens=args.probe_tokens,
                   clean_students=args.clean_students, wrong_keys=args.wrong_keys,
                   command=[sys.executable, "bench/forensics.py",
                            *(argv if argv is not None else sys.argv[1:])])
    return 0


if __name__ == "__main__":
    sys.exit(main())
