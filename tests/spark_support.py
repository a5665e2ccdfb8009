"""Helpers for the Spark tests: a simulated fixture, a standalone cluster, output comparison."""

from __future__ import annotations

import gzip
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

import pytest

from distillwatch.bench import output_differences, value_differences

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


def split_by_day(logs: Path, folder: Path) -> list[str]:
    """One JSONL file per UTC day of ``logs`` (a day's logs, as an incremental run gets them)."""
    import orjson

    days: dict[str, list[bytes]] = {}
    with gzip.open(logs, "rb") as fh:
        for line in fh:
            days.setdefault(orjson.loads(line)["ts"][:10], []).append(line)
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for day in sorted(days):
        path = folder / f"{day}.jsonl"
        path.write_bytes(b"".join(days[day]))
        names.append(str(path))
    return names


def assert_same(a: Any, b: Any, where: str = "", tol: float = 1e-9) -> None:
    """Equal structures; floats equal to ``tol`` (relative above 1), everything else exactly."""
    diffs = value_differences(a, b, where, tol)
    assert not diffs, diffs[:10]


def assert_same_outputs(duck: Path, spark: Path) -> None:
    """accounts.csv: every column equal (risk to 1e-9); findings.jsonl equal, floats to 1e-9."""
    diffs = output_differences(duck, spark)
    assert not diffs, diffs[:10]
    with (duck / "accounts.csv").open() as fh:
        assert len(fh.readlines()) > 1


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
