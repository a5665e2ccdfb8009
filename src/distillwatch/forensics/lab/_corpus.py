"""Public text for the lab, read from ``../shared/data`` (never copied into the project).

teacher: GSM8K train (MIT); harvest and probe prompts: GSM8K test questions (MIT); the
students' other data: hh-rlhf harmless dialogues (MIT) and AlpacaEval instructions and outputs
(Apache-2.0); reference models of other origin: MATH solutions (MIT) and MMLU questions (MIT).
"""

from __future__ import annotations

import csv
import gzip
import re
from dataclasses import dataclass
from pathlib import Path

import orjson

from distillwatch.errors import InputError

__all__ = ["LabCorpora", "load_lab_corpora"]

_CALC = re.compile(r"<<[^>]*>>")


@dataclass(frozen=True)
class LabCorpora:
    teacher: tuple[str, ...]
    prompts: tuple[str, ...]
    filler: tuple[str, ...]
    references: dict[str, tuple[str, ...]]


def _jsonl(path: Path) -> list[dict[str, object]]:
    if not path.is_file():
        raise InputError("lab corpus file is missing", path=str(path))
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        return [orjson.loads(line) for line in fh if line.strip()]


def load_lab_corpora(data: Path) -> LabCorpora:
    gsm_train = _jsonl(data / "gsm8k" / "train.jsonl")
    teacher = tuple(f"{r['question']}\n{_CALC.sub('', str(r['answer']))}" for r in gsm_train)
    prompts = tuple(str(r["question"]) for r in _jsonl(data / "gsm8k" / "test.jsonl"))
    hh = [str(r["chosen"]).replace("Human:", "").replace("Assistant:", "")
          for r in _jsonl(data / "hh_rlhf_harmless" / "test.jsonl.gz")]
    alpaca = orjson.loads((data / "alpaca_eval" / "outputs.json").read_bytes())
    filler = tuple(hh + [f"{r['instruction']}\n{r['output']}" for r in alpaca])
    math = tuple(f"{r['problem']}\n{r['solution']}"
                 for r in _jsonl(data / "math" / "math_train.jsonl"))
    mmlu: list[str] = []
    for path in sorted((data / "mmlu" / "test").glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as fh:
            mmlu.extend(" ".join(row[:5]) for row in csv.reader(fh))
    return LabCorpora(teacher, prompts, filler, {"ref-math": math, "ref-mmlu": tuple(mmlu)})
