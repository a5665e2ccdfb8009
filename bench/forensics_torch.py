"""Forensics on the PyTorch lab: a tiny transformer teacher and students (needs the `lab` extra).

    pip install torch==2.13.0   # or: pip install -e '.[lab]'
    python bench/forensics_torch.py [--steps 1000] [--probe-tokens 200000] [--json FILE]

Trains a word-level transformer teacher on GSM8K, serves it over HTTP with per-account
watermark (GreenListLogitsProcessor on torch tensors) and canaries, harvests, trains students at
0/5/20% of our outputs, serves each and runs the same probe as `distillwatch forensics probe`.
Small by necessity (2 shared CPU cores): see BENCHMARKS.md for what that does and does not show.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import torch

from distillwatch.forensics import (
    GreenListLogitsProcessor,
    ProbeConfig,
    SuspectClient,
    probe_case,
    score_tokens,
    words,
)
from distillwatch.forensics.lab import Lab, LabConfig, Marks, lab_app, serve_lab
from distillwatch.forensics.lab._bench import _generated_sequences, _null_summary
from distillwatch.forensics.lab._torchlab import TorchLM, build_vocab

ROOT = Path(__file__).resolve().parent
LEAK, INNOCENT = "acct_leak", "acct_innocent"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parents[1] / "shared" / "data")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--filler-tokens", type=int, default=150_000)
    parser.add_argument("--probe-tokens", type=int, default=200_000)
    parser.add_argument("--shares", default="0,0.05,0.2")
    parser.add_argument("--wrong-keys", type=int, default=50)
    parser.add_argument("--json", type=Path, default=ROOT / "results" / "forensics-torch.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    arch = {"d": 64, "ctx": 32, "layers": 2, "heads": 4, "batch": 16}
    work = Path(tempfile.mkdtemp(prefix="dw-forensics-torch-"))
    lab = Lab(LabConfig(data=args.data, teacher_docs=3000, reference_docs=2000,
                        filler_tokens=args.filler_tokens, probe_prompts=660, mode_contexts=100,
                        mode_samples=16, corroboration_prompts=100), work)
    teacher_texts = lab.corpora.teacher[:3000]
    vocab = build_vocab([*teacher_texts, *lab.filler], 3000)
    teacher = TorchLM.train(teacher_texts, vocab, steps=args.steps, **arch)
    print(f"teacher trained ({time.perf_counter() - t0:.0f}s)", flush=True)
    held_out = lab.corpora.teacher[3000:3100]
    proc = GreenListLogitsProcessor(lab.ring.key(LEAK, "watermark"), lab.config.scheme)
    ppl, acc = teacher.perplexity(held_out)
    ppl_m, acc_m = teacher.perplexity(held_out, [proc])
    quality = {"perplexity_plain": ppl, "perplexity_marked": ppl_m,
               "next_token_accuracy_plain": acc, "next_token_accuracy_marked": acc_m}
    print(f"quality {quality}", flush=True)
    shares = [float(s) for s in args.shares.split(",")]
    app = lab_app({"teacher": teacher},
                  marks={"teacher": Marks(lab.ring, lab.config.scheme, lab.injector)})
    with serve_lab(app) as url:
        harvested = lab.harvest_for_share(url, LEAK, max(shares))
        lab.harvest_for_share(url, INNOCENT, 0.01, offset=len(harvested))
    print(f"harvested {len(harvested)} ({time.perf_counter() - t0:.0f}s)", flush=True)
    rows: list[dict[str, Any]] = []
    nulls: list[float] = []
    for share in shares:
        ts = time.perf_counter()
        need = share / (1 - share) * sum(len(words(t)) for t in lab.filler) if share else 0
        mix, got = [], 0
        for doc in harvested:
            if got >= need:
                break
            mix.append(doc)
            got += len(words(doc))
        student = TorchLM.train([*lab.filler, *mix], vocab, steps=args.steps, seed=1, **arch)
        folder = lab.write_case(work / f"case-{share}", [LEAK, INNOCENT], teacher=teacher)
        with serve_lab(lab_app({"student": student})) as url:
            ev = probe_case(folder, SuspectClient(url, "student"), lab.ring,
                            ProbeConfig(generations=args.probe_tokens // 48,
                                        samples_per_request=16))
        tests = {(t["test"], t["account_id"]): t for t in ev["tests"]}
        seqs = _generated_sequences(folder, vocab, lab.config.scheme.context)
        for k in range(args.wrong_keys):
            key = lab.ring.key(f"acct_wrong_{share}_{k}", "watermark")
            nulls.append(score_tokens(key, lab.config.scheme, seqs, frozenset({-1})).p_value)
        row = {"share": share,
               "canary_p": tests[("canary_recall", LEAK)]["p_value"],
               "canary_stat": tests[("canary_recall", LEAK)]["statistic"],
               "radioactivity_p": tests[("watermark_radioactivity", LEAK)]["p_value"],
               "radioactivity_stat": tests[("watermark_radioactivity", LEAK)]["statistic"],
               "mode_p": tests[("watermark_mode", LEAK)]["p_value"],
               "corroboration_p": tests[("corroboration", None)]["p_value"],
               "innocent_min_p": min(t["p_value"] for t in ev["tests"]
                                     if t["account_id"] == INNOCENT),
               "named": [f["account_id"] for f in ev["findings"] if f["named"]],
               "queries": ev["budget"]["spent"], "seconds": round(time.perf_counter() - ts, 1)}
        rows.append(row)
        print(orjson.dumps(row).decode(), flush=True)
    result = {"benchmark": "forensics-torch-lab",
              "date": datetime.now(UTC).strftime("%Y-%m-%d"),
              "machine": {"python": platform.python_version(), "torch": torch.__version__,
                          "threads": 1, "note": "shared machine (other workers running)"},
              "arch": arch, "steps": args.steps, "vocab": len(vocab),
              "filler_tokens": args.filler_tokens, "probe_tokens": args.probe_tokens,
              "quality": quality, "canaries_served_to_leak": len(lab.registry.served(LEAK)),
              "students": rows, "nulls": {"radioactivity_wrong_keys": _null_summary(nulls)},
              "seconds": round(time.perf_counter() - t0, 1),
              "command": [sys.executable, "bench/forensics_torch.py",
                          *(argv if argv is not None else sys.argv[1:])]}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
