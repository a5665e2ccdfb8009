"""Forensics on the PyTorch lab: a tiny transformer teacher and students (needs the `lab` extra).

    pip install torch==2.13.0   # or: pip install -e '.[lab]'
    python bench/forensics_torch.py [--shares 0.05,0.2] [--clean 4] [--json FILE]

The chain, as a distiller runs it. A word-level transformer teacher is trained on GSM8K
solutions and served over HTTP with each account's watermark (``GreenListLogitsProcessor`` on
torch tensors) and canaries; ``acct_leak`` harvests it. A base model of other origin is
pretrained once (dialogues, instructions and human-written GSM8K solutions the teacher never
saw), with an open vocabulary (words outside its list are spelled), as a real student's
tokenizer can write any string. Each student is that base fine-tuned on a mix of other
human-written solutions and our harvested outputs at the given share; clean students are the
same fine-tune at 0% with other seeds and other data. Each student is served and put through
the same probe as ``distillwatch forensics probe``. Small by necessity (2 CPU cores): see
BENCHMARKS.md for what that does and does not show.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import torch

from distillwatch.forensics import (
    GreenListLogitsProcessor,
    ProbeConfig,
    SuspectClient,
    canary_slot,
    probe_case,
    score_tokens,
    words,
)
from distillwatch.forensics.lab import (
    Lab,
    LabConfig,
    Marks,
    harvest,
    lab_app,
    leading_documents,
    serve_lab,
)
from distillwatch.forensics.lab._bench import _generated_sequences, _null_summary
from distillwatch.forensics.lab._torchlab import TorchLM, build_vocab
from distillwatch.forensics.lab._vocab import OpenVocab

ROOT = Path(__file__).resolve().parent
LEAK, INNOCENT = "acct_leak", "acct_innocent"
TEACHER_DOCS, HELD_OUT = 3000, 100


def _tokens(texts: Sequence[str]) -> int:
    return sum(len(words(t)) for t in texts)


def _harvest(lab: Lab, url: str, account: str, need: float, offset: int = 0,
             temperature: float = 1.0) -> list[str]:
    """Harvested documents (prompt + answer) until they hold ``need`` tokens."""
    out: list[str] = []
    got, i = 0, offset
    while got < need:
        (doc,) = harvest(url, account, [lab.harvest_prompts[i % len(lab.harvest_prompts)]],
                         lab.config.harvest_max_tokens, seed=lab.config.seed + i,
                         temperature=temperature)
        out.append(doc)
        got += len(words(doc))
        i += 1
    return out


def _mix(harvested: Sequence[str], others: Sequence[str], share: float, total: int,
         seed: int) -> tuple[list[str], list[str]]:
    """(our documents, other documents) for a fine-tuning set of about ``total`` tokens."""
    pool = list(others)
    random.Random(seed).shuffle(pool)
    return (leading_documents(harvested, share * total),
            leading_documents(pool, (1 - share) * total))


def machine(threads: int) -> dict[str, Any]:
    """What a torch lab result was measured on."""
    return {"python": platform.python_version(), "torch": torch.__version__,
            "threads": threads, "cores": os.cpu_count(), "load_average_end": list(os.getloadavg())}


def write_result(path: Path, result: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    print(f"wrote {path}")


def _canaries_in(lab: Lab, docs: Sequence[str]) -> int:
    """Served canaries whose sentence is in ``docs``."""
    joined = "\n".join(docs)
    key = lab.ring.key(LEAK, "canary")
    return sum(canary_slot(key, row.slot, row.n_decoys)[0].sentence() in joined
               for row in lab.registry.served(LEAK))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parents[1] / "shared" / "data")
    parser.add_argument("--teacher-epochs", type=float, default=8.0)
    parser.add_argument("--base-epochs", type=float, default=6.0)
    parser.add_argument("--base-docs", type=int, default=1500,
                        help="human-written GSM8K solutions in the base model's pretraining")
    parser.add_argument("--base-vocab", type=int, default=3000)
    parser.add_argument("--ft-tokens", type=int, default=100_000,
                        help="tokens in each student's fine-tuning set")
    parser.add_argument("--ft-epochs", type=float, default=10.0)
    parser.add_argument("--filler-tokens", type=int, default=150_000)
    parser.add_argument("--probe-tokens", type=int, default=200_000)
    parser.add_argument("--shares", default="0.05,0.2")
    parser.add_argument("--harvest-temperature", type=float, default=1.0,
                        help="sampling temperature the harvesting accounts ask for")
    parser.add_argument("--clean", type=int, default=4, help="clean students (0%%)")
    parser.add_argument("--wrong-keys", type=int, default=50,
                        help="wrong keys scored on each student's generations")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--json", type=Path, default=ROOT / "results" / "forensics-torch.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    arch = {"d": 64, "ctx": 32, "layers": 2, "heads": 4, "batch": 32}
    work = Path(tempfile.mkdtemp(prefix="dw-forensics-torch-"))
    lab = Lab(LabConfig(data=args.data, teacher_docs=TEACHER_DOCS, reference_docs=2000,
                        filler_tokens=args.filler_tokens, probe_prompts=660, mode_contexts=100,
                        mode_samples=16, corroboration_prompts=100), work)
    teacher_texts = lab.corpora.teacher[:TEACHER_DOCS]
    vocab = build_vocab([*teacher_texts, *lab.filler], 3000)
    teacher = TorchLM.train(teacher_texts, vocab, epochs=args.teacher_epochs, **arch)
    print(f"teacher trained ({time.perf_counter() - t0:.0f}s)", flush=True)
    held_out = lab.corpora.teacher[TEACHER_DOCS:TEACHER_DOCS + HELD_OUT]
    proc = GreenListLogitsProcessor(lab.ring.key(LEAK, "watermark"), lab.config.scheme)
    ppl, acc = teacher.perplexity(held_out)
    ppl_m, acc_m = teacher.perplexity(held_out, [proc])
    quality = {"perplexity_plain": ppl, "perplexity_marked": ppl_m,
               "next_token_accuracy_plain": acc, "next_token_accuracy_marked": acc_m}
    print(f"quality {quality}", flush=True)

    # human-written solutions the teacher never saw: the base's and the students' own data
    others = lab.corpora.teacher[TEACHER_DOCS + HELD_OUT:]
    base_texts = [*lab.filler, *others[:args.base_docs]]
    ft_pool = others[args.base_docs:]
    base_vocab = OpenVocab.build(base_texts, args.base_vocab)
    base = TorchLM.train(base_texts, base_vocab, epochs=args.base_epochs, seed=7, **arch)
    base_ppl, _ = base.perplexity(held_out)
    print(f"base pretrained: vocabulary {len(base_vocab)}, perplexity {base_ppl:.0f} "
          f"({time.perf_counter() - t0:.0f}s)", flush=True)

    shares = [float(s) for s in args.shares.split(",") if float(s) > 0]
    app = lab_app({"teacher": teacher},
                  marks={"teacher": Marks(lab.ring, lab.config.scheme, lab.injector)})
    with serve_lab(app) as url:
        top = max(shares, default=0.0)
        harvested = _harvest(lab, url, LEAK, top * args.ft_tokens,
                             temperature=args.harvest_temperature)
        _harvest(lab, url, INNOCENT, 0.01 * args.ft_tokens, offset=len(harvested),
                 temperature=args.harvest_temperature)
    print(f"harvested {len(harvested)} ({time.perf_counter() - t0:.0f}s)", flush=True)

    plan = [(f"{s:g}", s, 1) for s in shares]
    plan += [(f"clean-{k}", 0.0, 100 + k) for k in range(1, args.clean + 1)]
    rows: list[dict[str, Any]] = []
    nulls: list[float] = []
    clean_leak: list[float] = []
    for name, share, seed in plan:
        ts = time.perf_counter()
        ours, rest = _mix(harvested, ft_pool, share, args.ft_tokens, seed)
        student = base.fine_tune([*rest, *ours], epochs=args.ft_epochs, seed=seed)
        ft_ppl, _ = student.perplexity(held_out)
        print(f"student {name}: fine-tuned ({time.perf_counter() - ts:.0f}s), held-out "
              f"perplexity {ft_ppl:.0f}", flush=True)
        folder = lab.write_case(work / f"case-{name}", [LEAK, INNOCENT], teacher=teacher)
        with serve_lab(lab_app({"student": student})) as url:
            ev = probe_case(folder, SuspectClient(url, "student"), lab.ring,
                            ProbeConfig(generations=args.probe_tokens // 48,
                                        samples_per_request=16))
        tests = {(t["test"], t["account_id"]): t for t in ev["tests"]}
        seqs = _generated_sequences(folder, vocab, lab.config.scheme.context)
        for k in range(args.wrong_keys):
            key = lab.ring.key(f"acct_wrong_{name}_{k}", "watermark")
            nulls.append(score_tokens(key, lab.config.scheme, seqs, frozenset({-1})).p_value)
        radio = tests[("watermark_radioactivity", LEAK)]
        if share == 0:
            clean_leak.append(radio["p_value"])
        row = {"student": name, "share": share, "seed": seed,
               "our_tokens": _tokens(ours), "other_tokens": _tokens(rest),
               "canaries_in_training": _canaries_in(lab, ours),
               "held_out_perplexity": ft_ppl,
               "canary_p": tests[("canary_recall", LEAK)]["p_value"],
               "canary_stat": tests[("canary_recall", LEAK)]["statistic"],
               "radioactivity_p": radio["p_value"], "radioactivity_stat": radio["statistic"],
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
              "machine": machine(args.threads),
              "arch": arch, "options": {k: (str(v) if isinstance(v, Path) else v)
                                        for k, v in vars(args).items()},
              "teacher_vocab": len(vocab), "base_vocab": len(base_vocab),
              "base_held_out_perplexity": base_ppl, "quality": quality,
              "canaries_served_to_leak": len(lab.registry.served(LEAK)),
              "harvested_documents": len(harvested), "students": rows,
              "nulls": {"radioactivity_wrong_keys": _null_summary(nulls),
                        "radioactivity_leak_key_on_clean_students": _null_summary(clean_leak)},
              "seconds": round(time.perf_counter() - t0, 1),
              "command": [sys.executable, "bench/forensics_torch.py",
                          *(argv if argv is not None else sys.argv[1:])]}
    write_result(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
