"""Gateway load benchmark: distillwatch's gateway and LiteLLM's proxy side by side, each in
front of the same mock upstream, against calling the mock directly.

    PYTHONPATH=src python bench/gateway/run.py [--litellm PATH] [--quick]

LiteLLM is not a dependency of distillwatch; install it in its own virtual environment and
point ``--litellm`` at its ``litellm`` command (skipped when not found):

    python -m venv /tmp/litellm-venv && /tmp/litellm-venv/bin/pip install 'litellm[proxy]'

Layout on a 2-core machine: this load generator and the mock upstream on core 0, the proxy
under test alone on core 1 (``taskset``); the gateway's scorer process on core 0, or with
``--scorer-core proxy`` on core 1 beside the proxy at nice 10 (its CPU is measured apart from
the proxy's either way). Writes bench/results/gateway.json and prints
tables.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import hashlib
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from loadgen import RunResult, build_request, open_loop

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results" / "gateway.json"
BENCH_KEY = "sk-bench-distillwatch-0000000000"
LITELLM_KEY = "sk-bench-litellm-master-key"
ADMIN_TOKEN = "bench-admin-token"
PROXY_CORE = "1"
LOAD_CORE = "0"


Target = tuple[int, "str | None", "Proc"]


def _wait_tcp(port: int, proc: subprocess.Popen[bytes], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}: {proc.args}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{proc.args} did not listen on port {port}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pinned(core: str, args: list[str]) -> list[str]:
    taskset = shutil.which("taskset")
    return [taskset, "-c", core, *args] if taskset and (os.cpu_count() or 1) > 1 else args


def _wait_http(port: int, path: str, proc: subprocess.Popen[bytes], seconds: float,
               headers: str = "") -> None:
    deadline = time.monotonic() + seconds
    request = f"GET {path} HTTP/1.1\r\nHost: x\r\n{headers}Connection: close\r\n\r\n".encode()
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}: {proc.args}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(request)
                if b" 200 " in sock.recv(1024):
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{proc.args} did not answer {path} on port {port}")


class Proc:
    """A server subprocess that is stopped with SIGTERM."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path, cwd: Path) -> None:
        self.log = log
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT,
                                         cwd=cwd)

    def cpu_seconds(self) -> float:
        """User plus system CPU time the process has used so far."""
        return _cpu_of(self.proc.pid)

    def children_cpu_seconds(self) -> float:
        """CPU time of the processes it started and still runs (the gateway's scorer)."""
        return sum(_cpu_of(pid) for pid in _children(self.proc.pid))

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return int(self.proc.returncode)


def _cpu_of(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            continue
    return out


def _dw(*args: str) -> list[str]:
    return [sys.executable, "-c", "from distillwatch.cli import main; main()", *args]


def _chat_body(tag: str, stream: bool, model: str = "mock") -> bytes:
    return orjson.dumps({
        "model": model, "stream": stream, "user": tag, "temperature": 0.7,
        "messages": [{"role": "system", "content": "You are a helpful assistant."},
                     {"role": "user", "content": "Explain, in two sentences, why the sky "
                                                 "looks blue at noon and red at sunset."}]})


def _run(port: int, body: bytes, key: str | None, rate: float, duration: float,
         **kw: Any) -> RunResult:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    request = build_request("/v1/chat/completions", body, headers)
    return asyncio.run(open_loop("127.0.0.1", port, request, rate, duration, **kw))


def _machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        load = os.getloadavg()
    except OSError:
        load = (0.0, 0.0, 0.0)
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "loadavg_at_start": [round(x, 2) for x in load],
            "shared": ("yes: the load average says other work ran" if load[0] >= 1.5 else
                       "no other work to speak of")}


def _versions(litellm: str | None) -> dict[str, str]:
    from importlib.metadata import version

    out = {name: version(name) for name in ("starlette", "uvicorn", "aiohttp", "uvloop",
                                            "httptools", "limits")}
    if litellm:
        pip = Path(litellm).with_name("pip")
        if pip.exists():
            show = subprocess.run([str(pip), "show", "litellm"], capture_output=True,
                                  text=True, check=False).stdout
            out["litellm"] = next((x.split(":", 1)[1].strip() for x in show.splitlines()
                                   if x.startswith("Version:")), "?")
    return out


def _scoring_available() -> bool:
    import distillwatch.detect

    return hasattr(distillwatch.detect, "OnlineDetector")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--litellm", default=shutil.which("litellm") or
                        "/tmp/litellm-venv/bin/litellm",
                        help="LiteLLM's `litellm` command (its own venv); skipped if absent")
    parser.add_argument("--quick", action="store_true", help="short runs (a smoke test)")
    parser.add_argument("--no-scoring", action="store_true",
                        help="run the gateway with --no-scoring (log and proxy only), to see "
                             "what scoring adds")
    parser.add_argument("--scorer-core", choices=("load", "proxy"), default="load",
                        help="where the gateway's scorer process runs: with the load generator "
                             "and the mock (default), or on the proxy's core, where its "
                             "default nice 10 puts it behind the proxy")
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs of each latency cell (LiteLLM: one); the tables give the "
                             "median, since a single p99 on a 2-core machine moves by a "
                             "millisecond from run to run")
    parser.add_argument("--json", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    litellm = args.litellm if args.litellm and Path(args.litellm).exists() else None
    scale = 0.25 if args.quick else 1.0
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {int(LOAD_CORE)})
    work = Path(tempfile.mkdtemp(prefix="dw-gw-bench-"))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep +
           os.environ.get("PYTHONPATH", "")}
    procs: list[Proc] = []
    report: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "PYTHONPATH=src python bench/gateway/run.py "
                   + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": _machine(), "versions": _versions(litellm),
        "layout": (f"load generator + mock upstream (+ the gateway's scorer process) on core "
                   f"{LOAD_CORE}; proxy under test alone on core {PROXY_CORE}"
                   if args.scorer_core == "load" else
                   f"load generator + mock upstream on core {LOAD_CORE}; proxy under test on "
                   f"core {PROXY_CORE}, with the gateway's scorer process (SCHED_IDLE)"),
    }
    try:
        mock_port = _free_port()
        mock = Proc(_pinned(LOAD_CORE, _dw("gateway", "mock-upstream", "--port",
                                           str(mock_port))), env, work / "mock.log", ROOT)
        procs.append(mock)
        _wait_http(mock_port, "/v1/models", mock.proc, 30)

        scorer_core = LOAD_CORE if args.scorer_core == "load" else PROXY_CORE
        keys = work / "keys.jsonl"
        keys.write_text(orjson.dumps({"account_id": "bench", "key_sha256": hashlib.sha256(
            BENCH_KEY.encode()).hexdigest()}).decode() + "\n")
        config = work / "gateway.toml"
        config.write_text("[upstream]\nread_timeout = 0.5\n[log]\nflush_interval = 1.0\n"
                          f"[scoring]\nprocess_cpus = \"{scorer_core}\"\n")
        gw_port = _free_port()
        scoring = _scoring_available() and not args.no_scoring
        gw_args = ["gateway", "--upstream", f"http://127.0.0.1:{mock_port}", "--port",
                   str(gw_port), "--keys", str(keys), "--log", str(work / "log"),
                   "--config", str(config), "--state", str(work / "state")]
        if not scoring:
            gw_args.append("--no-scoring")
        report["gateway_scoring"] = "OnlineDetector" if scoring else \
            "off (--no-scoring)" if args.no_scoring else "off (OnlineDetector not in this build)"
        gateway = Proc(_pinned(PROXY_CORE, _dw(*gw_args)),
                       {**env, "DISTILLWATCH_ADMIN_TOKEN": ADMIN_TOKEN}, work / "gateway.log",
                       ROOT)
        procs.append(gateway)
        _wait_http(gw_port, "/healthz", gateway.proc, 60)

        bare_port = _free_port()
        bare = Proc(_pinned(PROXY_CORE, [sys.executable, str(ROOT / "bench/gateway/bare_proxy.py"),
                                         "--upstream", f"http://127.0.0.1:{mock_port}",
                                         "--port", str(bare_port)]),
                    env, work / "bare.log", ROOT)
        procs.append(bare)

        ll_port = None
        lite = None
        if litellm:
            ll_port = _free_port()
            (work / "litellm.yaml").write_text(
                "model_list:\n  - model_name: mock\n    litellm_params:\n"
                "      model: openai/mock\n"
                f"      api_base: http://127.0.0.1:{mock_port}/v1\n      api_key: dummy\n")
            ll_env = {**os.environ, "LITELLM_MASTER_KEY": LITELLM_KEY,
                      "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR"}
            lite = Proc(_pinned(PROXY_CORE, [litellm, "--config", str(work / "litellm.yaml"),
                                             "--port", str(ll_port), "--num_workers", "1"]),
                        ll_env, work / "litellm.log", work)
            procs.append(lite)
            _wait_http(ll_port, "/health/liveliness", lite.proc, 180)

        _wait_tcp(bare_port, bare.proc, 30)
        targets: dict[str, Target] = {
            "direct": (mock_port, None, mock), "bare-proxy": (bare_port, None, bare),
            "distillwatch": (gw_port, BENCH_KEY, gateway)}
        if ll_port is not None and lite is not None:
            targets["litellm"] = (ll_port, LITELLM_KEY, lite)
        sent_through_gateway: Counter[str] = Counter()

        # warm-up: connections, caches, JIT-free but lazy imports
        for name, (port, key, _proc) in targets.items():
            warm = _run(port, _chat_body("warmup", False), key, 50, 2 * scale)
            if name == "distillwatch":
                sent_through_gateway["warmup"] += warm.sent

        report["latency"] = _latency_runs(targets, scale, sent_through_gateway, args.repeats)
        report["repeats"] = args.repeats
        report["max_rps"] = _max_rps_runs(targets, scale, sent_through_gateway)
        report["faults"] = _fault_runs(mock_port, gw_port, scale, sent_through_gateway)

        report["gateway_scoring_health"] = _scoring_health(gw_port)
        gateway_rc = gateway.stop()
        report["gateway_exit"] = gateway_rc
        report["log_check"] = _log_check(work / "log", sent_through_gateway)
    finally:
        for proc in reversed(procs):
            proc.stop()
    _print(report)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    print(f"\nwrote {args.json}")
    shutil.rmtree(work, ignore_errors=True)
    return 0


_LAST: list[str] = []  # the target measured last (it may still be working off a backlog)


@contextlib.contextmanager
def _alone(targets: dict[str, Target], name: str) -> Iterator[None]:
    """Measure ``name`` with the other proxies paused (SIGSTOP; the mock keeps running).

    The proxies share one core. A proxy that is only idle (LiteLLM's background tasks, a
    backlog it is still working through after an overloaded cell) would otherwise take that
    core in the middle of another proxy's measurement. The proxy measured just before is
    given up to 20 s to go quiet before it is paused, so that its backlog does not carry over
    into its own next cell.
    """
    others = [(other, proc) for other, (_port, _key, proc) in targets.items()
              if other not in (name, "direct") and proc.proc.poll() is None]
    for other, proc in others:
        if _LAST and _LAST[-1] == other:
            _quiesce(proc)
        proc.proc.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        for _other, proc in others:
            proc.proc.send_signal(signal.SIGCONT)
        _LAST.append(name)


def _quiesce(proc: Proc, seconds: float = 20.0) -> None:
    """Wait (at most ``seconds``) until ``proc`` uses under 10% of a core."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        before = proc.cpu_seconds()
        time.sleep(0.5)
        if proc.cpu_seconds() - before < 0.05:
            return


def _latency_runs(targets: dict[str, Target], scale: float, sent: Counter[str],
                  repeats: int = 1) -> list[dict[str, Any]]:
    """Each (mode, rate) cell ``repeats`` times, targets interleaved so that drift hits all
    alike; a row gives the median p50 and p99 over its runs, and the added latency as the
    median of each run's difference from the direct run just before it."""
    rows = []
    for stream in (False, True):
        for rate in (50, 200, 1000):
            runs: dict[str, list[dict[str, Any]]] = {name: [] for name in targets}
            for rep in range(max(1, repeats)):
                for name, (port, key, proc) in targets.items():
                    if name == "litellm" and rep > 0:
                        continue  # it does not keep up above 50 RPS; once is enough
                    runs[name].append(_latency_cell(targets, name, port, key, proc, stream,
                                                    rate, scale, sent))
            for name, cells in runs.items():
                rows.append(_latency_row(name, stream, cells, runs["direct"]))
    return rows


def _latency_cell(targets: dict[str, Target], name: str, port: int, key: str | None,
                  proc: Proc, stream: bool, rate: int, scale: float,
                  sent: Counter[str]) -> dict[str, Any]:
    duration = 8.0 * scale if not (name == "litellm" and rate > 200) else 3 * scale
    tag = f"lat-{rate}-{'stream' if stream else 'json'}"
    with _alone(targets, name):
        cpu0, child0 = proc.cpu_seconds(), proc.children_cpu_seconds()
        result = _run(port, _chat_body(tag, stream), key, rate, duration, drain=15.0)
        cpu = proc.cpu_seconds() - cpu0
        child = proc.children_cpu_seconds() - child0
    if name == "distillwatch":
        sent[tag] += result.sent
    cell = {**result.summary(), "cpu_us_per_call": round(cpu / max(1, result.ok) * 1e6, 1),
            "scorer_cpu_us_per_call": round(child / max(1, result.ok) * 1e6, 1),
            "loadavg_1m": round(os.getloadavg()[0], 2),
            "sustained": (result.ok >= 0.99 * int(rate * duration)
                          and result.summary()["achieved_rps"] >= 0.9 * rate)}
    print(f"  latency {name:12s} {'stream' if stream else 'json  '} {rate:5d} rps: "
          f"p50 {cell['p50_ms']:.3f} ms  p99 {cell['p99_ms']:.3f} ms  "
          f"achieved {cell['achieved_rps']}  {dict(result.outcomes)}", flush=True)
    return cell


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _latency_row(name: str, stream: bool, cells: list[dict[str, Any]],
                 direct: list[dict[str, Any]]) -> dict[str, Any]:
    """One table row: the last run's counts, medians of the latencies over the runs."""
    row: dict[str, Any] = {"target": name, "stream": stream, **cells[-1]}
    for q in ("p50_ms", "p90_ms", "p99_ms"):
        if q in row:
            row[q] = round(_median([c[q] for c in cells]), 3)
    row["p99_runs_ms"] = [c["p99_ms"] for c in cells]
    row["cpu_us_per_call"] = round(_median([c["cpu_us_per_call"] for c in cells]), 1)
    row["sustained"] = all(c["sustained"] for c in cells)
    if name == "distillwatch":
        row["scorer_cpu_us_per_call"] = round(
            _median([c["scorer_cpu_us_per_call"] for c in cells]), 1)
    else:
        row.pop("scorer_cpu_us_per_call", None)
    if name != "direct":
        for q in ("p50", "p99"):
            row[f"added_{q}_ms"] = round(_median(
                [c[f"{q}_ms"] - d[f"{q}_ms"] for c, d in zip(cells, direct, strict=False)]), 3)
        row["added_p99_runs_ms"] = [round(c["p99_ms"] - d["p99_ms"], 3)
                                    for c, d in zip(cells, direct, strict=False)]
    return row


def _max_rps_runs(targets: dict[str, Target], scale: float,
                  sent: Counter[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    wide = (1000, 2000, 3000, 4000, 5000, 6000, 8000)
    ladders = {"direct": wide, "bare-proxy": wide, "distillwatch": wide,
               "litellm": (50, 100, 150, 200, 300)}
    for name, (port, key, proc) in targets.items():
        steps = []
        base_p99 = None
        best = 0
        failures = 0
        for rate in ladders[name]:
            tag = f"max-{rate}"
            with _alone(targets, name):
                cpu0, child0 = proc.cpu_seconds(), proc.children_cpu_seconds()
                result = _run(port, _chat_body(tag, False), key, rate, 4.0 * scale,
                              drain=10.0)
                cpu = proc.cpu_seconds() - cpu0
                child = proc.children_cpu_seconds() - child0
            if name == "distillwatch":
                sent[tag] += result.sent
            row = result.summary()
            row["cpu_us_per_call"] = round(cpu / max(1, result.ok) * 1e6, 1)
            row["loadavg_1m"] = round(os.getloadavg()[0], 2)
            if name == "distillwatch":
                row["scorer_cpu_us_per_call"] = round(child / max(1, result.ok) * 1e6, 1)
            base_p99 = base_p99 if base_p99 is not None else row["p99_ms"]
            ok = (result.ok >= 0.99 * int(rate * 4.0 * scale)
                  and row["achieved_rps"] >= 0.95 * rate
                  and row["p99_ms"] <= max(3 * base_p99, 10.0))
            row["holds"] = ok
            steps.append(row)
            print(f"  max-rps  {name:12s} {rate:5d} rps: achieved {row['achieved_rps']}  "
                  f"p99 {row['p99_ms']:.3f} ms  late p99 {row['late_p99_ms']:.3f} ms  "
                  f"{'holds' if ok else 'BENDS'}", flush=True)
            if ok:
                best = rate
                failures = 0
            else:
                failures += 1
                if failures >= 2:
                    break
        cpu = [r["cpu_us_per_call"] for r in steps if r["holds"]] or \
            [r["cpu_us_per_call"] for r in steps]
        per_call = float(sorted(cpu)[len(cpu) // 2])
        extra: dict[str, Any] = {}
        if name == "distillwatch":
            scorer = sorted(r["scorer_cpu_us_per_call"] for r in steps)
            extra["scorer_cpu_us_per_call_median"] = scorer[len(scorer) // 2]
        out[name] = {"steps": steps, "max_rps_before_bend": best, **extra,
                     "cpu_us_per_call_median": per_call,
                     "cpu_bound_rps_one_core": round(1e6 / per_call) if per_call else None}
    return out


def _fault_runs(mock_port: int, gw_port: int, scale: float,
                sent: Counter[str]) -> list[dict[str, Any]]:
    cases = [("upstream 503", "mock:status=503", False, 100),
             ("upstream 500", "mock:status=500", False, 100),
             ("upstream timeout (1 s > 0.5 s read timeout)", "mock:delay=1", False, 20),
             ("slow stream (20 chunks, 10 ms apart)", "mock:slow=0.01,chunks=20", True, 50),
             ("broken stream (drop after 3 chunks)", "mock:break=3,chunks=10", True, 50)]
    rows = []
    for label, model, stream, rate in cases:
        tag = f"fault-{model}"
        body = _chat_body(tag, stream, model)
        direct = _run(mock_port, body, None, rate, 2.0 * scale, keep_bodies=True, drain=15)
        proxied = _run(gw_port, body, BENCH_KEY, rate, 2.0 * scale, keep_bodies=True,
                       drain=15)
        sent[tag] += proxied.sent
        if "delay" in model:  # the gateway's own timeout: every call a 504 upstream_timeout
            same_bodies = set(proxied.outcomes) == {"504"} and all(
                b"upstream_timeout" in body for (_s, body) in proxied.bodies)
        else:
            same_bodies = (set(proxied.bodies) == set(direct.bodies)
                           and proxied.outcomes == direct.outcomes)
        rows.append({
            "case": label, "model": model, "stream": stream, "sent": proxied.sent,
            "direct_outcomes": dict(direct.outcomes),
            "gateway_outcomes": dict(proxied.outcomes),
            "faithful": same_bodies,
            "gateway_bodies": sorted({b[:160].decode("utf-8", "replace")
                                      for (_s, b) in proxied.bodies})[:3],
        })
        print(f"  fault    {label:45s} direct {dict(direct.outcomes)}  gateway "
              f"{dict(proxied.outcomes)}  same bodies: {same_bodies}", flush=True)
    return rows


def _scoring_health(port: int) -> dict[str, Any] | None:
    """The gateway's scoring counters (scored, unscored, restarts) before it stops."""
    import urllib.request

    request = urllib.request.Request(f"http://127.0.0.1:{port}/admin/health",
                                     headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            body: dict[str, Any] = orjson.loads(answer.read())
    except OSError:
        return None
    return body.get("scoring")


def _log_check(log_dir: Path, sent: Counter[str]) -> dict[str, Any]:
    from distillwatch.ingest import validate_traffic_record

    found: Counter[str] = Counter()
    invalid = 0
    files = sorted(log_dir.glob("traffic-*.jsonl*"))
    for path in files:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as handle:
            for line in handle:
                record = orjson.loads(line)
                invalid += validate_traffic_record(record) is not None
                found[record["request"].get("user", "?")] += 1
    missing = {tag: n - found.get(tag, 0) for tag, n in sent.items() if found.get(tag, 0) != n}
    return {"sent_through_gateway": sum(sent.values()), "records": sum(found.values()),
            "invalid_records": invalid, "files": len(files), "mismatched_tags": missing,
            "no_record_lost": not missing and invalid == 0}


def _print(report: dict[str, Any]) -> None:
    print("\nAdded latency over calling the mock directly (open loop, ms)")
    print(f"{'mode':7s} {'rps':>5s} {'target':13s} {'p50':>8s} {'p99':>8s} {'+p50':>8s} "
          f"{'+p99':>8s} {'achieved':>9s} {'cpu us/call':>11s}  sustained")
    for row in report["latency"]:
        print(f"{'stream' if row['stream'] else 'json':7s} {row['target_rps']:5.0f} "
              f"{row['target']:13s} {row['p50_ms']:8.3f} {row['p99_ms']:8.3f} "
              f"{row.get('added_p50_ms', 0):8.3f} {row.get('added_p99_ms', 0):8.3f} "
              f"{row['achieved_rps']:9.1f} {row['cpu_us_per_call']:11.1f}  {row['sustained']}")
    print("\nMost requests per second before latency bends (json, one process on one core)")
    for name, data in report["max_rps"].items():
        print(f"  {name:13s} measured {data['max_rps_before_bend']:>6}   CPU per call "
              f"{data['cpu_us_per_call_median']:.0f} us -> CPU-bound "
              f"{data['cpu_bound_rps_one_core']} rps")
    print("\nUpstream faults through the gateway")
    for row in report["faults"]:
        print(f"  {row['case']:45s} {row['gateway_outcomes']}  faithful: "
              f"{row['faithful']}")
    check = report["log_check"]
    print(f"\nTraffic log: {check['records']} records for {check['sent_through_gateway']} "
          f"calls sent, {check['invalid_records']} invalid; no record lost: "
          f"{check['no_record_lost']}")


if __name__ == "__main__":
    sys.exit(main())
