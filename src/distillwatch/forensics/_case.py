"""The case folder: which accounts, which marks, and what a probe may ask (``case.json``).

```json
{"format": "distillwatch-forensics-case/1", "case_id": "case-2026-001",
 "accounts": ["acct_1", "acct_2"],
 "canaries": {"registry": "canaries.sqlite", "prompt": "prefix"},
 "watermark": {"gamma": 0.25, "delta": 2.0, "context": 1, "vocab": "vocab.json",
               "key_versions": {"acct_1": 1}, "prompts": "prompts.txt",
               "max_tokens": 64, "mode_contexts": 200, "mode_samples": 8},
 "corroboration": {"file": "corroboration.jsonl", "match_tokens": 6}}
```
Paths are relative to the case folder. Sections that are absent are tests that are not run.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from distillwatch.errors import InputError
from distillwatch.forensics._watermark import WatermarkScheme

__all__ = ["CASE_FORMAT", "Case", "CorroborationItem", "load_case"]

CASE_FORMAT = "distillwatch-forensics-case/1"


@dataclass(frozen=True)
class CorroborationItem:
    """A probe prompt with our model's answer and answers of reference models."""

    prompt: str
    ours: str
    references: dict[str, str]


@dataclass(frozen=True)
class Case:
    folder: Path
    case_id: str
    accounts: tuple[str, ...]
    registry: Path | None = None
    canary_prompt: str = "prefix"
    scheme: WatermarkScheme | None = None
    vocab: Path | None = None
    key_versions: dict[str, int] = field(default_factory=dict)
    prompts: tuple[str, ...] = ()
    max_tokens: int = 64
    mode_contexts: int = 0
    mode_samples: int = 8
    corroboration: tuple[CorroborationItem, ...] = ()
    match_tokens: int = 6
    files: dict[str, str] = field(default_factory=dict)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _require(obj: dict[str, Any], name: str, kind: type, path: Path, where: str = "") -> Any:
    value = obj.get(name)
    if not isinstance(value, kind):
        raise InputError(f"missing or not a {kind.__name__}", path=str(path),
                         field=f"{where}{name}")
    return value


def _file(folder: Path, rel: str, case_path: Path, fld: str) -> Path:
    path = folder / rel
    if not path.is_file():
        raise InputError(f"names {rel!r}, which does not exist in the case folder",
                         path=str(case_path), field=fld)
    return path


def _corroboration(path: Path) -> tuple[CorroborationItem, ...]:
    items = []
    for line_no, line in enumerate(path.read_bytes().splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = orjson.loads(line)
            items.append(CorroborationItem(str(obj["prompt"]), str(obj["ours"]),
                                           {str(k): str(v) for k, v in obj["references"].items()}))
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise InputError(f"expected prompt, ours, references ({exc!r})", path=str(path),
                             line=line_no) from None
    return tuple(items)


def load_case(folder: Path) -> Case:
    """Read and check ``folder/case.json``; record the sha256 of every file the case uses."""
    case_path = folder / "case.json"
    try:
        obj = orjson.loads(case_path.read_bytes())
    except FileNotFoundError:
        raise InputError("no case.json in the case folder", path=str(case_path)) from None
    except orjson.JSONDecodeError as exc:
        raise InputError(f"not JSON: {exc.msg}", path=str(case_path), line=exc.lineno) from None
    if not isinstance(obj, dict) or obj.get("format") != CASE_FORMAT:
        raise InputError(f"expected format {CASE_FORMAT!r}", path=str(case_path), field="format")
    accounts = tuple(str(a) for a in _require(obj, "accounts", list, case_path))
    if not accounts:
        raise InputError("lists no accounts", path=str(case_path), field="accounts")
    files = {"case.json": _sha256(case_path)}
    kw: dict[str, Any] = {}
    if (can := obj.get("canaries")) is not None:
        reg = _file(folder, _require(can, "registry", str, case_path, "canaries."), case_path,
                    "canaries.registry")
        kw["registry"] = reg
        kw["canary_prompt"] = str(can.get("prompt", "prefix"))
        if kw["canary_prompt"] not in ("prefix", "question"):
            raise InputError("must be 'prefix' or 'question'", path=str(case_path),
                             field="canaries.prompt")
        files[reg.name] = _sha256(reg)
    if (wm := obj.get("watermark")) is not None:
        kw["scheme"] = WatermarkScheme(float(wm.get("gamma", 0.25)), float(wm.get("delta", 2.0)),
                                       int(wm.get("context", 1)))
        vocab = _file(folder, _require(wm, "vocab", str, case_path, "watermark."), case_path,
                      "watermark.vocab")
        prompts = _file(folder, _require(wm, "prompts", str, case_path, "watermark."), case_path,
                        "watermark.prompts")
        kw.update(vocab=vocab, key_versions={str(k): int(v) for k, v in
                                             wm.get("key_versions", {}).items()},
                  prompts=tuple(p for p in prompts.read_text("utf-8").splitlines() if p.strip()),
                  max_tokens=int(wm.get("max_tokens", 64)),
                  mode_contexts=int(wm.get("mode_contexts", 0)),
                  mode_samples=int(wm.get("mode_samples", 8)))
        files[vocab.name] = _sha256(vocab)
        files[prompts.name] = _sha256(prompts)
    if (cor := obj.get("corroboration")) is not None:
        path = _file(folder, _require(cor, "file", str, case_path, "corroboration."), case_path,
                     "corroboration.file")
        kw["corroboration"] = _corroboration(path)
        kw["match_tokens"] = int(cor.get("match_tokens", 6))
        files[path.name] = _sha256(path)
    return Case(folder, str(obj.get("case_id") or folder.name), accounts, files=files, **kw)
