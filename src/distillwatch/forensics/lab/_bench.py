"""The forensics benchmark on the n-gram lab: students at 0/1/5/20% of our outputs, attacks,
nulls over clean students and wrong keys, and the watermark's quality cost.

Everything goes through HTTP as in production: the marked teacher serves harvesting accounts,
each student is served and put through ``forensics probe`` (the same code as the CLI).
"""

from __future__ import annotations

import hashlib
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from rich.table import Table
from scipy import stats

from distillwatch.forensics._canary import canary_slot, recall_score
from distillwatch.forensics._client import SuspectClient
from distillwatch.forensics._evidence import probe_case
from distillwatch.forensics._probe import ProbeConfig
from distillwatch.forensics._stats import graded_canary_test
from distillwatch.forensics._tokenize import UNKNOWN, WordVocab, words
from distillwatch.forensics._watermark import GreenListLogitsProcessor, mode_test, score_tokens
from distillwatch.forensics.lab._attacks import NeutraliseHook
from distillwatch.forensics.lab._ngram import LogitsHook, NGramModel
from distillwatch.forensics.lab._server import lab_app, serve_lab
from distillwatch.forensics.lab._world import Lab, LabConfig, leading_documents

__all__ = ["ForensicsBenchConfig", "forensics_table", "run_forensics_bench"]

Log = Callable[[str], None]
LEAK, INNOCENT = "acct_leak", "acct_innocent"


@dataclass(frozen=True)
class ForensicsBenchConfig:
    data: Path
    workdir: Path
    filler_tokens: int = 300_000
    teacher_docs: int = 4000
    probe_tokens: int = 200_000
    students: tuple[tuple[float, str], ...] = (
        (0.0, "none"), (0.01, "none"), (0.05, "none"), (0.2, "none"),
        (0.05, "paraphrase"), (0.05, "unicode"), (0.05, "neutralise"), (0.2, "paraphrase"))
    clean_students: int = 8
    wrong_keys: int = 25
    canary_null_accounts: int = 20
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def _quality(lab: Lab, held_out: Sequence[str]) -> dict[str, float]:
    """Perplexity and next-token accuracy of the teacher with and without the watermark."""
    model = lab.teacher
    proc = GreenListLogitsProcessor(lab.ring.key(LEAK, "watermark"), lab.config.scheme)
    nll = {"plain": 0.0, "marked": 0.0}
    hits = {"plain": 0, "marked": 0}
    n = 0
    for text in held_out:
        ids = [i for i in model.vocab.encode(text) if i != UNKNOWN]
        for i in range(1, len(ids)):
            logits = model.logits(ids[:i])
            marked = logits + proc.bias(ids[:i], len(logits))
            for name, lg in (("plain", logits), ("marked", marked)):
                z = lg - lg.max()
                logp = z - np.log(np.exp(z).sum())
                nll[name] -= float(logp[ids[i]])
                hits[name] += int(np.argmax(lg) == ids[i])
            n += 1
    return {"tokens": n,
            "perplexity_plain": float(np.exp(nll["plain"] / n)),
            "perplexity_marked": float(np.exp(nll["marked"] / n)),
            "next_token_accuracy_plain": hits["plain"] / n,
            "next_token_accuracy_marked": hits["marked"] / n}


def _student_hooks(lab: Lab, student: NGramModel, attack: str) -> dict[str, list[LogitsHook]]:
    if attack != "neutralise":
        return {}
    reference = NGramModel.train(lab.filler, vocab=student.vocab)
    return {"student": [NeutraliseHook(reference)]}


def _generated_sequences(folder: Path, vocab: WordVocab, context: int) -> list[list[int]]:
    """The radioactivity generations back from the transcript (prompt tail + completion)."""
    import orjson

    seqs = []
    for line in (folder / "transcript.jsonl").read_bytes().splitlines():
        ex = orjson.loads(line)
        if ex["test"] != "watermark_radioactivity":
            continue
        probe = orjson.loads(ex["probe"])
        text = orjson.loads(ex["response"])["choices"][0]["text"]
        seqs.append(vocab.encode(probe["prompt"])[-context:] + vocab.encode(text))
    return seqs


def _mode_samples(folder: Path, vocab: WordVocab,
                  context: int) -> list[tuple[list[int], list[int]]]:
    """The mode test's (context, sampled next ids) back from the transcript."""
    import orjson

    out = []
    for line in (folder / "transcript.jsonl").read_bytes().splitlines():
        ex = orjson.loads(line)
        if ex["test"] != "watermark_mode":
            continue
        ctx = vocab.encode(orjson.loads(ex["probe"])["prompt"])[-context:]
        nexts = [ids[0] for ids in (vocab.encode(c["text"]) for c in
                                     orjson.loads(ex["response"])["choices"])
                 if ids and ids[0] != UNKNOWN]
        out.append((ctx, nexts))
    return out


def _canary_nulls(lab: Lab, url: str, accounts: int, slots: int, seed: int) -> list[float]:
    """Canary tests for accounts never served anything: served/decoy labels from their keys."""
    client = SuspectClient(url, "student")
    out = []
    for a in range(accounts):
        key = lab.ring.key(f"acct_never_{seed}_{a}", "canary")
        cells = []
        for slot in range(slots):
            served, decoys = canary_slot(key, slot, lab.config.n_decoys)
            cells.append([recall_score(c, client.complete(c.prefix(), test="null",
                                                          max_tokens=8)[0])
                          for c in (served, *decoys)])
        out.append(graded_canary_test(cells))
    return out


def run_forensics_bench(cfg: ForensicsBenchConfig, log: Log = print) -> dict[str, Any]:
    t0 = time.perf_counter()
    gen_per_prompt = 48
    generations = max(1, cfg.probe_tokens // gen_per_prompt)
    lab_cfg = LabConfig(data=cfg.data, teacher_docs=cfg.teacher_docs,
                        filler_tokens=cfg.filler_tokens, probe_prompts=660,
                        mode_contexts=150, mode_samples=16, corroboration_prompts=200,
                        seed=cfg.seed)
    lab = Lab(lab_cfg, cfg.workdir)
    log(f"lab built: teacher vocab {len(lab.teacher.vocab):,}, filler "
        f"{cfg.filler_tokens:,} tokens ({time.perf_counter() - t0:.0f}s)")
    held_out = lab.corpora.teacher[cfg.teacher_docs:cfg.teacher_docs + 100]
    quality = _quality(lab, held_out)
    log(f"watermark quality cost: {quality}")
    max_share = max(s for s, _ in cfg.students)
    with serve_lab(lab.teacher_app()) as url:
        harvested = lab.harvest_for_share(url, LEAK, max_share)
        lab.harvest_for_share(url, INNOCENT, 0.01, offset=len(harvested))
    log(f"harvested {len(harvested):,} responses; canaries served to {LEAK}: "
        f"{len(lab.registry.served(LEAK))} ({time.perf_counter() - t0:.0f}s)")
    secret = cfg.workdir / "secret.json"
    secret.write_bytes(lab.ring.to_json())
    rows: list[dict[str, Any]] = []
    null_radio: list[float] = []
    null_mode_sources: list[float] = []
    canary_nulls: list[float] = []
    scheme = lab.config.scheme
    students: list[tuple[str, float, str, int]] = [
        (f"{int(s * 100)}%-{a}", s, a, 0) for s, a in cfg.students]
    students += [(f"clean-{i}", 0.0, "none", i) for i in range(1, cfg.clean_students)]
    for name, share, attack, variant in students:
        ts = time.perf_counter()
        filler = lab.filler
        if variant:
            rng = np.random.default_rng(cfg.seed * 1000 + variant)
            lab.filler = [filler[i] for i in rng.permutation(len(filler))[:int(len(filler) * .8)]]
        student = lab.student(harvested, share, attack, seed=variant)
        lab.filler = filler
        folder = lab.write_case(cfg.workdir / f"case-{name}", [LEAK, INNOCENT])
        with serve_lab(lab_app({"student": student},
                               hooks=_student_hooks(lab, student, attack))) as url:
            client = SuspectClient(url, "student")
            ev = probe_case(folder, client, lab.ring,
                            ProbeConfig(seed=cfg.seed + variant, generations=generations))
            if variant == 0 and share == 0.0 and cfg.canary_null_accounts:
                canary_nulls = _canary_nulls(lab, url, cfg.canary_null_accounts, 25, cfg.seed)
        tests = {(t["test"], t["account_id"]): t for t in ev["tests"]}
        seqs = _generated_sequences(folder, lab.teacher.vocab, scheme.context)
        samples = _mode_samples(folder, lab.teacher.vocab, scheme.context)
        for k in range(cfg.wrong_keys):
            key = lab.ring.key(f"acct_wrong_{name}_{k}", "watermark")
            null_radio.append(score_tokens(key, scheme, seqs, frozenset({UNKNOWN})).p_value)
            null_mode_sources.append(mode_test(key, scheme, samples).p_value)
        if share == 0.0:
            null_radio.append(tests[("watermark_radioactivity", LEAK)]["p_value"])
            null_mode_sources.append(tests[("watermark_mode", LEAK)]["p_value"])
        null_mode_sources.append(tests[("watermark_mode", INNOCENT)]["p_value"])
        radio = tests[("watermark_radioactivity", LEAK)]
        row = {
            "student": name, "share": share, "attack": attack,
            "canaries_in_training": _canaries_in(lab, harvested, share),
            "canary_p": tests[("canary_recall", LEAK)]["p_value"],
            "canary_stat": tests[("canary_recall", LEAK)]["statistic"],
            "radioactivity_p": radio["p_value"],
            "radioactivity_stat": radio["statistic"],
            "mode_p": tests[("watermark_mode", LEAK)]["p_value"],
            "corroboration_p": tests[("corroboration", None)]["p_value"],
            "innocent_min_p": min(t["p_value"] for t in ev["tests"]
                                  if t["account_id"] == INNOCENT),
            "named": [f["account_id"] for f in ev["findings"] if f["named"]],
            "queries": ev["budget"]["spent"],
            "seconds": round(time.perf_counter() - ts, 1),
        }
        rows.append(row)
        log(f"{name:>16}: canary p {row['canary_p']:.3g}, radioactivity p "
            f"{row['radioactivity_p']:.3g} ({radio['statistic']['tokens']:,} tokens), mode p "
            f"{row['mode_p']:.3g}, corroboration p {row['corroboration_p']:.3g}, named "
            f"{row['named']} ({row['seconds']}s)")
    nulls = {
        "radioactivity": _null_summary(null_radio),
        "mode": _null_summary(null_mode_sources),
        "canary_never_served": _null_summary(canary_nulls),
    }
    log(f"nulls: {nulls}")
    return {
        "benchmark": "forensics-ngram-lab",
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": {"python": platform.python_version(), "cpus": _cpus(),
                    "note": "shared machine (other workers running)"},
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()},
        "scheme": asdict(scheme),
        "quality": quality,
        "canaries_served_to_leak": len(lab.registry.served(LEAK)),
        "students": rows,
        "nulls": nulls,
        "seconds": round(time.perf_counter() - t0, 1),
    }


def _canaries_in(lab: Lab, harvested: Sequence[str], share: float) -> int:
    """How many served canaries made it into a student's training mix."""
    if share == 0:
        return 0
    need = share / (1 - share) * sum(len(words(t)) for t in lab.filler)
    n = 0
    key = lab.ring.key(LEAK, "canary")
    rows = lab.registry.served(LEAK)
    joined = "\n".join(leading_documents(harvested, need))
    for row in rows:
        served, _ = canary_slot(key, row.slot, row.n_decoys)
        n += served.sentence() in joined
    return n


def _null_summary(ps: Sequence[float]) -> dict[str, Any]:
    if not ps:
        return {"n": 0}
    arr = np.asarray(ps)
    degenerate = bool(np.all(arr == arr[0]))
    return {"n": len(ps), "min_p": float(arr.min()), "below_1e-3": int((arr < 1e-3).sum()),
            "ks_uniform_p": None if degenerate else float(stats.kstest(arr, "uniform").pvalue),
            "all_equal": degenerate,
            "share_below_0.05": float((arr < 0.05).mean()),
            "sha256": hashlib.sha256(arr.tobytes()).hexdigest()[:16]}


def _cpus() -> int:
    import os

    return os.cpu_count() or 0



def forensics_table(result: dict[str, Any]) -> Table:
    """The students table as the benchmark prints it."""
    table = Table(title="forensics bench (n-gram lab)", title_justify="left")
    for col in ("student", "canaries in data", "canary p", "radioactivity p", "tokens",
                "mode p", "corroboration p", "innocent min p", "named"):
        table.add_column(col)
    for r in result["students"]:
        table.add_row(r["student"], str(r["canaries_in_training"]), f"{r['canary_p']:.2g}",
                      f"{r['radioactivity_p']:.2g}", f"{r['radioactivity_stat']['tokens']:,}",
                      f"{r['mode_p']:.2g}", f"{r['corroboration_p']:.2g}",
                      f"{r['innocent_min_p']:.2g}", ", ".join(r["named"]) or "-")
    return table
