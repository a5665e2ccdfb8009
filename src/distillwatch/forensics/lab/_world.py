"""The lab world: a marked teacher behind an HTTP server, harvesting accounts, students trained
on mixes of harvested and other text (with attacks), and a case folder to probe them with."""

from __future__ import annotations

import hashlib
import shutil
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from starlette.applications import Starlette

from distillwatch.forensics._case import CASE_FORMAT
from distillwatch.forensics._inject import CanaryInjector
from distillwatch.forensics._keys import KeyRing
from distillwatch.forensics._registry import CanaryRegistry
from distillwatch.forensics._tokenize import words
from distillwatch.forensics._watermark import WatermarkScheme
from distillwatch.forensics.lab._attacks import paraphrase, unicode_normalise
from distillwatch.forensics.lab._corpus import LabCorpora, load_lab_corpora
from distillwatch.forensics.lab._ngram import NGramModel
from distillwatch.forensics.lab._server import Marks, lab_app

__all__ = ["Lab", "LabConfig", "harvest", "leading_documents"]


@dataclass(frozen=True)
class LabConfig:
    data: Path
    teacher_docs: int = 3000
    reference_docs: int = 3000
    filler_tokens: int = 100_000
    harvest_max_tokens: int = 64
    canary_share: float = 0.25
    max_canaries: int = 100
    n_decoys: int = 3
    scheme: WatermarkScheme = field(default_factory=WatermarkScheme)
    probe_prompts: int = 200
    mode_contexts: int = 100
    mode_samples: int = 8
    corroboration_prompts: int = 100
    seed: int = 0


def harvest(url: str, account: str, prompts: Sequence[str], max_tokens: int,
            seed: int, temperature: float = 1.0) -> list[str]:
    """What a harvesting account does: ask the served teacher and keep prompt + answer."""
    out = []
    for i, prompt in enumerate(prompts):
        body = orjson.dumps({"model": "teacher", "prompt": prompt, "max_tokens": max_tokens,
                             "temperature": temperature, "seed": seed * 100_003 + i})
        req = urllib.request.Request(f"{url}/completions", data=body, method="POST", headers={
            "Content-Type": "application/json", "Authorization": f"Bearer {account}"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            text = orjson.loads(resp.read())["choices"][0]["text"]
        out.append(f"{prompt}\n{text}")
    return out


def leading_documents(texts: Iterable[str], words_wanted: float) -> list[str]:
    """The first documents of ``texts`` until they hold at least ``words_wanted`` words (none
    when it is 0): how every lab mix takes its share of a corpus."""
    out: list[str] = []
    got = 0
    for text in texts:
        if got >= words_wanted:
            break
        out.append(text)
        got += len(words(text))
    return out


def _tokens(texts: Sequence[str]) -> int:
    return sum(len(words(t)) for t in texts)


class Lab:
    """Teacher, references, marks and students; one lab per work folder."""

    def __init__(self, config: LabConfig, workdir: Path,
                 corpora: LabCorpora | None = None) -> None:
        self.config = config
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.corpora = corpora or load_lab_corpora(config.data)
        secret = hashlib.sha256(f"distillwatch-lab-{config.seed}".encode()).digest()
        self.ring = KeyRing({1: secret}, 1)
        self.teacher = NGramModel.train(self.corpora.teacher[:config.teacher_docs], min_count=2)
        self.references = {
            name: NGramModel.train(texts[:config.reference_docs], min_count=2)
            for name, texts in self.corpora.references.items()}
        prompts = self.corpora.prompts
        self.harvest_prompts = prompts[0::2]
        self.probe_prompts = prompts[1::2]
        self.registry = CanaryRegistry(workdir / "canaries.sqlite")
        self.injector = CanaryInjector(self.registry, self.ring, share=config.canary_share,
                                       n_decoys=config.n_decoys,
                                       max_per_account=config.max_canaries)
        self.filler = leading_documents(self.corpora.filler, config.filler_tokens)

    def teacher_app(self) -> Starlette:
        """The teacher served with per-account watermark and canary marks."""
        return lab_app({"teacher": self.teacher},
                       marks={"teacher": Marks(self.ring, self.config.scheme, self.injector)})

    def harvest_for_share(self, url: str, account: str, share: float, offset: int = 0,
                          progress: Callable[[int, int], None] | None = None) -> list[str]:
        """Enough harvested documents to be ``share`` of a student's training tokens."""
        need = share / (1 - share) * _tokens(self.filler)
        out: list[str] = []
        got, i = 0, offset
        est = max(1, int(need / (self.config.harvest_max_tokens + 40)) + 1)
        while got < need:
            (doc,) = harvest(url, account, [self.harvest_prompts[i % len(self.harvest_prompts)]],
                             self.config.harvest_max_tokens, seed=self.config.seed + i)
            out.append(doc)
            got += len(words(doc))
            i += 1
            if progress:
                progress(len(out), max(est, len(out)))
        return out

    def student(self, harvested: Sequence[str], share: float, attack: str = "none",
                seed: int = 0) -> NGramModel:
        """A student trained on the filler plus harvested text at ``share`` of its tokens."""
        rng = np.random.default_rng(seed)
        need = share / (1 - share) * _tokens(self.filler) if share > 0 else 0.0
        mix: list[str] = []
        got = 0
        for doc in harvested:
            if got >= need:
                break
            if attack == "paraphrase":
                doc = paraphrase(doc, rng)
            elif attack == "unicode":
                doc = unicode_normalise(doc)
            mix.append(doc)
            got += len(words(doc))
        return NGramModel.train([*self.filler, *mix])

    def write_case(self, folder: Path, accounts: Sequence[str],
                   key_versions: dict[str, int] | None = None, teacher: Any = None) -> Path:
        """A case folder for ``accounts``: case.json, registry copy, vocabulary, prompts and
        corroboration answers of our (unmarked) teacher and the reference models."""
        cfg = self.config
        ours = teacher or self.teacher
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.registry.path, folder / "canaries.sqlite")
        ours.vocab.save(folder / "vocab.json")
        probe = self.probe_prompts[:cfg.probe_prompts]
        (folder / "prompts.txt").write_text("\n".join(p.replace("\n", " ") for p in probe) + "\n",
                                            encoding="utf-8")
        rng = np.random.default_rng(0)
        lines = []
        cor = self.probe_prompts[-cfg.corroboration_prompts:]
        for question in cor:
            parts = question.split()
            prompt = " ".join(parts[:max(2, len(parts) // 2)])
            answer = ours.complete(prompt, 4, temperature=0, rng=rng)
            refs = {name: m.complete(prompt, 4, temperature=0, rng=rng)
                    for name, m in sorted(self.references.items())}
            lines.append(orjson.dumps({"prompt": prompt, "ours": answer, "references": refs}))
        (folder / "corroboration.jsonl").write_bytes(b"\n".join(lines) + b"\n")
        case = {
            "format": CASE_FORMAT, "case_id": folder.name, "accounts": list(accounts),
            "canaries": {"registry": "canaries.sqlite", "prompt": "prefix"},
            "watermark": {"gamma": cfg.scheme.gamma, "delta": cfg.scheme.delta,
                          "context": cfg.scheme.context, "vocab": "vocab.json",
                          "key_versions": key_versions or {}, "prompts": "prompts.txt",
                          "max_tokens": 48, "mode_contexts": cfg.mode_contexts,
                          "mode_samples": cfg.mode_samples},
            "corroboration": {"file": "corroboration.jsonl", "match_tokens": 2},
        }
        (folder / "case.json").write_bytes(orjson.dumps(case, option=orjson.OPT_INDENT_2))
        return folder
