"""How many exposures a lab transformer needs before canaries name an account (needs `lab`).

    pip install torch==2.13.0   # or: pip install -e '.[lab]'
    python bench/forensics_canary_dose.py [--threads 2] [--json FILE]

The canary target (issue 8: the leaking account named at p < 1e-6 from at most 100 canaries)
rests on the student memorising served values. The full lab (`bench/forensics_torch.py`)
found no canary reproduced; this measures why, as a dose-response curve on the lab's own
architecture, with 60 served canaries of one account (3 decoys each, never trained on):

- ``alone``: a model trained from scratch on nothing but the canary sentences, 12 copies of
  each, for a range of epochs: how many passes a fact needs at all;
- ``mix``: the lab's pretrained base (dialogues, instructions, human GSM8K solutions) fine-tuned
  on 100,000 tokens of other human solutions into which each canary sentence is woven ``r``
  times, for ``E`` epochs: the distiller's situation, with the canaries diluted.

Each student is asked every candidate's completion prefix (greedy, 8 tokens) and scored as
``forensics probe`` scores it; the table gives whole-value and graded p-values.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import torch

from distillwatch.forensics import (
    CanarySlot,
    KeyRing,
    canary_slot,
    canary_test,
    graded_canary_test,
    recall_score,
)
from distillwatch.forensics._canary import Canary
from distillwatch.forensics.lab import leading_documents
from distillwatch.forensics.lab._corpus import load_lab_corpora
from distillwatch.forensics.lab._torchlab import TorchLM
from distillwatch.forensics.lab._vocab import OpenVocab
from forensics_torch import machine, write_result

ROOT = Path(__file__).resolve().parent
ARCH = {"d": 64, "ctx": 32, "layers": 2, "heads": 4}
TEACHER_DOCS, HELD_OUT = 3000, 100


def _plan(text: str) -> list[tuple[int, float]]:
    """``"12x10,36x30"`` -> [(12, 10.0), (36, 30.0)] (copies x epochs)."""
    out = []
    for item in text.split(","):
        copies, epochs = item.split("x")
        out.append((int(copies), float(epochs)))
    return out


def _score(model: TorchLM, slots: Sequence[tuple[Canary, list[Canary]]],
           copies: int, epochs: float, seconds: float) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    graded = [[recall_score(c, model.complete(c.prefix(), 8, temperature=0, rng=rng))
               for c in (served, *decoys)] for served, decoys in slots]
    whole = [CanarySlot(s[0] > len(slots[i][0].value),
                        sum(v > len(slots[i][0].value) for v in s[1:]), len(s) - 1)
             for i, s in enumerate(graded)]
    return {"copies": copies, "epochs": epochs, "exposures": round(copies * epochs),
            "served_whole": sum(w.served_hit for w in whole),
            "decoys_whole": sum(w.decoy_hits for w in whole),
            "served_score_mean": round(float(np.mean([s[0] for s in graded])), 3),
            "decoy_score_mean": round(float(np.mean([v for s in graded for v in s[1:]])), 3),
            "p_whole": canary_test(whole), "p_graded": graded_canary_test(graded),
            "seconds": round(seconds, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parents[1] / "shared" / "data")
    parser.add_argument("--canaries", type=int, default=60)
    parser.add_argument("--alone", default="12x10,12x20,12x30,12x40,12x60",
                        help="copies x epochs of canary-only training")
    parser.add_argument("--mix", default="1x10,12x10,12x30,36x10,36x30",
                        help="copies x epochs of the base fine-tuned on the diluted mix")
    parser.add_argument("--ft-tokens", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path,
                        default=ROOT / "results" / "forensics-canary-dose.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    ring = KeyRing({1: hashlib.sha256(b"distillwatch-canary-dose").digest()}, 1)
    key = ring.key("acct_leak", "canary")
    slots = [canary_slot(key, j, 3) for j in range(args.canaries)]
    sentences = [served.sentence() for served, _ in slots]

    corpora = load_lab_corpora(args.data)
    filler = leading_documents(corpora.filler, 150_000)
    others = list(corpora.teacher[TEACHER_DOCS + HELD_OUT:])
    base_texts = [*filler, *others[:1500]]
    vocab = OpenVocab.build(base_texts, 3000)
    tokens_per_sentence = float(np.mean([len(vocab.encode(s)) for s in sentences]))

    alone = []
    for copies, epochs in _plan(args.alone):
        ts = time.perf_counter()
        model = TorchLM.train(sentences * copies, vocab, epochs=epochs, **ARCH)
        row = _score(model, slots, copies, epochs, time.perf_counter() - ts)
        alone.append(row)
        print("alone", orjson.dumps(row).decode(), flush=True)

    base = TorchLM.train(base_texts, vocab, epochs=6.0, seed=7, **ARCH)
    print(f"base pretrained ({time.perf_counter() - t0:.0f}s)", flush=True)
    pool = others[1500:]
    mix = []
    for copies, epochs in _plan(args.mix):
        ts = time.perf_counter()
        rng = random.Random(copies)
        docs = leading_documents(rng.sample(pool, len(pool)), args.ft_tokens)
        where = list(range(len(docs)))
        rng.shuffle(where)
        for k, sentence in enumerate(s for s in sentences for _ in range(copies)):
            i = where[k % len(where)]
            docs[i] = f"{docs[i].rstrip()} {sentence}"
        student = base.fine_tune(docs, epochs=epochs, seed=1)
        row = _score(student, slots, copies, epochs, time.perf_counter() - ts)
        row["canary_share_of_tokens"] = round(
            copies * len(sentences) * tokens_per_sentence
            / sum(len(vocab.encode(d)) for d in docs), 4)
        mix.append(row)
        print("mix", orjson.dumps(row).decode(), flush=True)

    result = {"benchmark": "forensics-canary-dose",
              "date": datetime.now(UTC).strftime("%Y-%m-%d"),
              "machine": machine(args.threads),
              "arch": ARCH, "canaries": args.canaries, "decoys_per_canary": 3,
              "tokens_per_canary_sentence": round(tokens_per_sentence, 1),
              "alone": alone, "mix": mix, "seconds": round(time.perf_counter() - t0, 1),
              "command": [sys.executable, "bench/forensics_canary_dose.py",
                          *(argv if argv is not None else sys.argv[1:])]}
    write_result(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
