"""Entry point shared by ``distillwatch bench --forensics`` and ``bench/forensics.py``."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import orjson
from rich.console import Console

from distillwatch.errors import InputError
from distillwatch.forensics.lab._bench import (
    ForensicsBenchConfig,
    forensics_table,
    run_forensics_bench,
)

__all__ = ["run_and_report"]


def run_and_report(data: Path, *, json_path: Path, workdir: Path | None = None,
                   filler_tokens: int = 300_000, probe_tokens: int = 200_000,
                   clean_students: int = 8, wrong_keys: int = 25,
                   command: list[str] | None = None) -> dict[str, object]:
    """Run the benchmark, print its table and write the JSON results."""
    if not (data / "gsm8k").is_dir():
        raise InputError("the forensics lab needs the public corpora folder (../shared/data)",
                         path=str(data))
    console = Console(stderr=True)
    tmp = workdir is None
    work = Path(tempfile.mkdtemp(prefix="dw-forensics-")) if workdir is None else workdir
    try:
        result = run_forensics_bench(
            ForensicsBenchConfig(data=data, workdir=work, filler_tokens=filler_tokens,
                                 probe_tokens=probe_tokens, clean_students=clean_students,
                                 wrong_keys=wrong_keys),
            log=lambda msg: console.log(msg))
    finally:
        if tmp:
            shutil.rmtree(work, ignore_errors=True)
    result["command"] = command or []
    Console().print(forensics_table(result))
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    console.print(f"wrote {json_path}")
    return result
