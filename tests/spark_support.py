"""Helpers for the Spark tests: a simulated fixture, a standalone cluster, output comparison."""

from __future__ import annotations

import csv
import gzip
import math
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest

SRC = str(Path(__file__).resolve().parents[1] / "src")


def require_spark() -> None:
    """Skip (with the reason) where PySpark or Java is missing; both are here in CI."""
    pytest.importorskip("pyspark", reason="the 'spark' extra is not installed")
    if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        pytest.skip("Spark needs Java 17: no java on PATH and no JAVA_HOME")


def make_logs(folder: Path) -> tuple[list[str], str]:
    """A small simulated population (rings included), plus a file of bad and repeated lines."""
    from distillwatch.sim import simulate

    sim = folder / "sim"
    simulate(out=sim, scenario="demo", accounts=60, days=3, seed=3)
    with gzip.open(sim / "traffic.jsonl.gz", "rb") as fh:
        first = fh.readline()
    extra = folder / "extra.jsonl"
    extra.write_bytes(b"\n".join([
        b"{not json",
        b"",
        first.rstrip(b"\n"),                # a repeat of a stored call
        b"[1, 2]",
        b'{"ts": "2026-09-01T00:00:00Z"}',  # no request_id / account_id
        b"   ",
        first.rstrip(b"\n").replace(b'"status":200', b'"status":"ok"'),
    ]) + b"\n")
    return [str(sim / "traffic.jsonl.gz"), str(extra)], str(sim / "accounts.jsonl")


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


def assert_same(a: Any, b: Any, where: str = "", tol: float = 1e-9) -> None:
    """Equal structures; floats equal to ``tol`` (relative above 1), everything else exactly."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for k in a:
            assert_same(a[k], b[k], f"{where}/{k}", tol)
    elif isinstance(a, list | tuple):
        assert isinstance(b, list | tuple) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]", tol)
    elif isinstance(a, float) or isinstance(b, float):
        assert a is not None and b is not None, f"{where}: {a!r} != {b!r}"
        if math.isnan(a) or math.isnan(b):
            assert math.isnan(a) and math.isnan(b), f"{where}: {a!r} != {b!r}"
        else:
            assert abs(a - b) <= tol * max(1.0, abs(a)), f"{where}: {a!r} != {b!r}"
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def assert_same_outputs(duck: Path, spark: Path) -> None:
    """accounts.csv: every column equal (risk to 1e-9); findings.jsonl equal, floats to 1e-9."""
    rows_d, rows_s = read_csv(duck / "accounts.csv"), read_csv(spark / "accounts.csv")
    assert [r["account_id"] for r in rows_d] == [r["account_id"] for r in rows_s]
    for d, s in zip(rows_d, rows_s, strict=True):
        assert abs(float(d.pop("risk")) - float(s.pop("risk"))) <= 1e-9, d["account_id"]
        assert d == s
    find_d = [orjson.loads(x) for x in (duck / "findings.jsonl").read_bytes().splitlines()]
    find_s = [orjson.loads(x) for x in (spark / "findings.jsonl").read_bytes().splitlines()]
    assert_same(find_d, find_s, "findings")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _spark_class() -> str:
    import pyspark

    return str(Path(pyspark.__file__).parent / "bin" / "spark-class")


def _wait_for(log: Path, text: str, proc: subprocess.Popen[bytes], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            raise RuntimeError(f"{log.name} exited: {log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.25)
    raise RuntimeError(f"no {text!r} in {log} after {seconds}s")


@contextmanager
def standalone_cluster(folder: Path, *, cores: int = 2, memory: str = "2g") -> Iterator[str]:
    """A Spark standalone master and one worker on loopback; yields the master URL."""
    (folder / "work").mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable,
           "SPARK_WORKER_DIR": str(folder / "work"), "SPARK_LOG_DIR": str(folder),
           "SPARK_NO_DAEMONIZE": "1"}
    port = _free_port()
    url = f"spark://127.0.0.1:{port}"
    procs: list[subprocess.Popen[bytes]] = []
    try:
        master_log = folder / "master.log"
        with master_log.open("wb") as out:
            procs.append(subprocess.Popen(
                [_spark_class(), "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                 "--port", str(port), "--webui-port", str(_free_port())],
                env=env, stdout=out, stderr=subprocess.STDOUT))
        _wait_for(master_log, "I have been elected leader", procs[0], 90)
        worker_log = folder / "worker.log"
        with worker_log.open("wb") as out:
            procs.append(subprocess.Popen(
                [_spark_class(), "org.apache.spark.deploy.worker.Worker", url,
                 "--host", "127.0.0.1", "--webui-port", str(_free_port()),
                 "--cores", str(cores), "--memory", memory, "--work-dir", str(folder / "work")],
                env=env, stdout=out, stderr=subprocess.STDOUT))
        _wait_for(worker_log, "Successfully registered with master", procs[1], 90)
        yield url
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in reversed(procs):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
