"""Loading the public corpora folder (laid out like ``../shared/data``) into a TextBank.

Every corpus is split by role with a stable hash of each item's id or text
(:func:`._bank.split_by_role`), so the same kind of text appears on the benign and on the
harvesting side. Files are parsed once per process (cached by absolute path). Agent tasks have
no public counterpart and come from the built-in generator.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from distillwatch.errors import InputError
from distillwatch.sim._bank import Conv, EvalSet, TextBank, split_by_role
from distillwatch.sim._text import builtin_bank

__all__ = ["load_bank"]

USER_CAP = 3000
REPLY_CAP = 1500


def _text(path: Path) -> str:
    if not path.is_file():
        raise InputError("expected corpus file is missing", path=str(path))
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                return fh.read()
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise InputError(f"cannot read corpus file: {exc}", path=str(path)) from exc


@lru_cache(maxsize=512)
def _jsonl(path: Path) -> tuple[dict[str, Any], ...]:
    rows = []
    for i, line in enumerate(_text(path).split("\n"), 1):  # not splitlines: U+2028 in text
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"malformed JSON line: {exc.msg}", path=str(path), line=i) from exc
        if not isinstance(obj, dict):
            raise InputError("expected a JSON object", path=str(path), line=i)
        rows.append(obj)
    return tuple(rows)


@lru_cache(maxsize=64)
def _json(path: Path) -> Any:
    try:
        return json.loads(_text(path))
    except json.JSONDecodeError as exc:
        raise InputError(f"malformed JSON: {exc.msg}", path=str(path), line=exc.lineno) from exc


@lru_cache(maxsize=256)
def _csv(path: Path) -> tuple[dict[str, str], ...]:
    reader = csv.DictReader(io.StringIO(_text(path)))
    try:
        return tuple(reader)
    except csv.Error as exc:
        raise InputError(f"malformed CSV: {exc}", path=str(path), line=reader.line_num) from exc


def _field(row: dict[str, Any], key: str, path: Path, line: int) -> str:
    value = row.get(key)
    if not isinstance(value, str):
        raise InputError("missing or non-text field", path=str(path), line=line, field=key)
    return value


def _list_field(data: Any, path: Path) -> list[dict[str, Any]]:
    if not isinstance(data, list) or not all(isinstance(x, dict) for x in data):
        raise InputError("expected a JSON list of objects", path=str(path))
    return data


def _instr(row: dict[str, Any], path: Path, i: int) -> str:
    text = _field(row, "instruction", path, i)
    extra = row.get("input")
    return f"{text}\n\n{extra}" if isinstance(extra, str) and extra.strip() else text


def _sharegpt(root: Path) -> tuple[list[Conv], list[str], dict[str, str]]:
    path = root / "sharegpt" / "sharegpt_v3_partial_conversations.jsonl.gz"
    convs: list[tuple[str, Conv]] = []
    for i, row in enumerate(_jsonl(path), 1):
        turns = row.get("conversations")
        if not isinstance(turns, list):
            raise InputError("missing conversations", path=str(path), line=i,
                             field="conversations")
        pairs: list[tuple[str, str | None]] = []
        for k, t in enumerate(turns):
            if isinstance(t, dict) and t.get("from") == "human" and isinstance(t.get("value"), str):
                nxt = turns[k + 1] if k + 1 < len(turns) else None
                reply = nxt.get("value") if isinstance(nxt, dict) and nxt.get("from") == "gpt" \
                    else None
                pairs.append((t["value"][:USER_CAP],
                              reply[:REPLY_CAP] if isinstance(reply, str) and reply else None))
        if pairs and pairs[0][0].strip():
            convs.append((str(row.get("id", i)), tuple(pairs[:12])))
    benign, harvest = split_by_role(convs, lambda c: c[0], "sharegpt")
    answers = {c[1][0][0]: c[1][0][1] for c in harvest if c[1][0][1]}
    return [c[1] for c in benign], [c[1][0][0] for c in harvest], answers


def _mmlu(root: Path) -> tuple[str, ...]:
    test_dir, dev_dir = root / "mmlu" / "test", root / "mmlu" / "dev"
    if not test_dir.is_dir():
        raise InputError("expected corpus folder is missing", path=str(test_dir))
    out: list[str] = []
    for test in sorted(test_dir.glob("*_test.csv")):
        subject = test.name[: -len("_test.csv")]
        dev = _csv(dev_dir / f"{subject}_dev.csv")

        def fmt(r: dict[str, str], answer: bool) -> str:
            opts = "\n".join(f"{'ABCD'[k]}. {r.get(f'choice{k}', '')}" for k in range(4))
            ans = " " + "ABCD"[int(r.get("answer") or 0) % 4] if answer else ""
            return f"{r.get('question', '')}\n{opts}\nAnswer:{ans}"

        head = (f"The following are multiple choice questions (with answers) about "
                f"{subject.replace('_', ' ')}.\n\n" + "\n\n".join(fmt(r, True) for r in dev[:5]))
        out += [f"{head}\n\n{fmt(r, False)}" for r in _csv(test)]
    return tuple(out)


def _bbh(root: Path) -> tuple[str, ...]:
    task_dir = root / "bbh" / "bbh"
    if not task_dir.is_dir():
        raise InputError("expected corpus folder is missing", path=str(task_dir))
    out: list[str] = []
    for task in sorted(task_dir.glob("*.json")):
        cot = _text(root / "bbh" / "cot-prompts" / f"{task.stem}.txt")
        cot = cot.split("-----", 1)[-1].strip()
        data = _json(task)
        examples = data.get("examples") if isinstance(data, dict) else None
        for ex in _list_field(examples, task):
            out.append(f"{cot}\n\nQ: {ex.get('input', '')}\nA: Let's think step by step.")
    return tuple(out)


MIN_TEMPLATE_ROWS = 30


def _t0(root: Path) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    folder = root / "t0_templated"
    if not folder.is_dir():
        raise InputError("expected corpus folder is missing", path=str(folder))
    files = sorted(folder.glob("*.jsonl.gz"))
    if not files:
        raise InputError("no *.jsonl.gz template files", path=str(folder))
    benign, harvest = split_by_role(files, lambda p: p.name, "t0")

    def load(p: Path) -> tuple[str, ...]:
        return tuple(_field(r, "prompt", p, i)[:USER_CAP] for i, r in enumerate(_jsonl(p), 1))

    # a template needs inputs to fill it: files with fewer than a few dozen rows are left out
    # (some of the shared template files are empty)
    def usable(paths: list[Path]) -> list[tuple[str, ...]]:
        return [rows for rows in map(load, paths) if len(rows) >= MIN_TEMPLATE_ROWS]

    return usable(benign), usable(harvest)


@lru_cache(maxsize=4)
def _load(root: Path) -> TextBank:
    if not root.is_dir():
        raise InputError("corpora folder not found", path=str(root))
    chats, sweep, answers = _sharegpt(root)
    general: list[str] = []

    def split_into(items: list[str], salt: str, benign: list[str], harvest: list[str]) -> None:
        b, h = split_by_role(items, str, salt)
        benign += b
        harvest += h

    p = root / "alpaca_eval" / "outputs.json"
    split_into([_field(r, "instruction", p, i) for i, r in enumerate(_list_field(_json(p), p), 1)],
               "alpaca_eval", general, sweep)
    p = root / "alpaca_sample" / "alpaca_en_demo.json"
    split_into([_instr(r, p, i) for i, r in enumerate(_list_field(_json(p), p), 1)],
               "alpaca", general, sweep)
    p = root / "self_instruct" / "seed_tasks.jsonl"
    split_into([_instr(r, p, i) for i, r in enumerate(_jsonl(p), 1)], "seed", general, sweep)
    p = root / "hh_rlhf_harmless" / "test.jsonl.gz"
    hh = []
    for i, r in enumerate(_jsonl(p), 1):
        first = _field(r, "chosen", p, i).split("\n\nHuman: ", 1)[-1].split("\n\nAssistant:")[0]
        hh.append(first.strip())
    split_into([h for h in hh if h], "hh", general, sweep)
    p = root / "mt_bench" / "mt_bench_question.jsonl"
    mt = [r["turns"][0] for r in _jsonl(p) if isinstance(r.get("turns"), list) and r["turns"]]
    split_into([str(t) for t in mt], "mt", general, sweep)
    support: list[str] = []
    p = root / "banking77" / "train.csv"
    split_into([_field(r, "text", p, i) for i, r in enumerate(_csv(p), 2)], "b77", support, sweep)
    app_tasks: list[str] = []
    passages: list[str] = []
    p = root / "self_instruct" / "user_oriented_instructions.jsonl"
    for i, r in enumerate(_jsonl(p), 1):
        instr = _field(r, "instruction", p, i)
        inputs = [x.get("input", "") for x in r.get("instances") or [] if isinstance(x, dict)]
        inputs = [x for x in inputs if isinstance(x, str) and x.strip()]
        if role := split_by_role([instr], str, "uo")[1]:
            sweep += [f"{role[0]}\n\n{x}" for x in inputs] or role
        else:
            app_tasks.append(instr)
            passages += inputs
    code_b: list[str] = []
    code_h: list[str] = []
    p = root / "codealpaca" / "code_alpaca_2k.json"
    split_into([_instr(r, p, i) for i, r in enumerate(_list_field(_json(p), p), 1)],
               "codealpaca", code_b, code_h)
    p = root / "humaneval" / "HumanEval.jsonl.gz"
    split_into([f"Complete the following Python function:\n\n```python\n"
                f"{_field(r, 'prompt', p, i)}```" for i, r in enumerate(_jsonl(p), 1)],
               "humaneval", code_b, code_h)
    math_b: list[str] = []
    math_h: list[str] = []
    p = root / "gsm8k" / "train.jsonl"
    split_into([_field(r, "question", p, i) for i, r in enumerate(_jsonl(p), 1)], "gsm",
               math_b, math_h)
    p = root / "math" / "math_train.jsonl"
    split_into([_field(r, "problem", p, i) for i, r in enumerate(_jsonl(p), 1)], "math",
               math_b, math_h)
    t_b, t_h = _t0(root)
    p_gt = root / "gsm8k" / "test.jsonl"
    p_m5 = root / "math" / "math500_test.jsonl"
    p_tq = root / "truthfulqa" / "TruthfulQA.csv"
    eval_sets = {
        "mmlu_5shot": EvalSet("mmlu_5shot", _mmlu(root), 2),
        "bbh_cot": EvalSet("bbh_cot", _bbh(root), 512, cot=True),
        "gsm8k_test": EvalSet("gsm8k_test", tuple(
            _field(r, "question", p_gt, i) for i, r in enumerate(_jsonl(p_gt), 1)), 512, cot=True),
        "math500": EvalSet("math500", tuple(
            _field(r, "problem", p_m5, i) for i, r in enumerate(_jsonl(p_m5), 1)), 1024, cot=True),
        "truthfulqa": EvalSet("truthfulqa", tuple(
            f"Q: {_field(r, 'Question', p_tq, i)}\nA:" for i, r in enumerate(_csv(p_tq), 2)), 128),
    }
    bank = TextBank(
        source=str(root), chats=chats, general=general, sweep=sweep, support=support,
        code_benign=code_b, code_harvest=code_h, math_benign=math_b, math_harvest=math_h,
        app_tasks=app_tasks, passages=passages, agent_tasks=builtin_bank().agent_tasks,
        templates_benign=t_b, templates_harvest=t_h, eval_sets=eval_sets, answers=answers,
    )
    try:
        bank.check()
    except ValueError as exc:
        raise InputError(str(exc), path=str(root)) from exc
    return bank


def load_bank(root: Path) -> TextBank:
    """The corpora folder as a :class:`TextBank` (cached per process by absolute path)."""
    return _load(root.resolve())
