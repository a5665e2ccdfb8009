"""An open-loop HTTP/1.1 load generator on asyncio streams (keep-alive connection pool).

Open loop: request i is sent at ``start + i / rate`` whether or not earlier ones have
answered, so a slow server meets the same arrival rate a real one would (no coordinated
omission). Latency runs from the moment the request bytes are written to the last byte of
the answer (chunked bodies and server-sent events read to the end); ``late`` records how far
behind schedule the generator itself sent, so a saturated generator shows up.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["RunResult", "build_request", "open_loop"]


def build_request(path: str, body: bytes, headers: dict[str, str]) -> bytes:
    """Raw HTTP/1.1 request bytes (keep-alive)."""
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json",
             f"Content-Length: {len(body)}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass
class RunResult:
    """One run: what was sent, what came back, how long it took."""

    rate: float
    duration: float
    sent: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    latency_ms: list[float] = field(default_factory=list)
    ttfb_ms: list[float] = field(default_factory=list)
    late_ms: list[float] = field(default_factory=list)
    bodies: Counter[tuple[int, bytes]] = field(default_factory=Counter)
    elapsed: float = 0.0

    @property
    def ok(self) -> int:
        return self.outcomes.get("200", 0)

    def summary(self) -> dict[str, Any]:
        lat = np.array(self.latency_ms) if self.latency_ms else np.array([np.nan])
        ttfb = np.array(self.ttfb_ms) if self.ttfb_ms else np.array([np.nan])
        late = np.array(self.late_ms) if self.late_ms else np.array([0.0])
        done = sum(self.outcomes.values())
        return {
            "target_rps": self.rate, "duration_s": self.duration, "sent": self.sent,
            "completed": done, "achieved_rps": round(done / self.elapsed, 1)
            if self.elapsed else 0.0,
            "outcomes": dict(self.outcomes),
            "p50_ms": round(float(np.percentile(lat, 50)), 3),
            "p90_ms": round(float(np.percentile(lat, 90)), 3),
            "p99_ms": round(float(np.percentile(lat, 99)), 3),
            "max_ms": round(float(np.max(lat)), 3),
            "ttfb_p50_ms": round(float(np.percentile(ttfb, 50)), 3),
            "ttfb_p99_ms": round(float(np.percentile(ttfb, 99)), 3),
            "late_p99_ms": round(float(np.percentile(late, 99)), 3),
        }


Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]
_IDLE_MAX = 3.0  # s; below servers' keep-alive timeouts (uvicorn: 5 s), as real clients do


class _Pool:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.idle: list[tuple[Conn, float]] = []
        self.open = 0

    async def get(self) -> Conn:
        now = time.monotonic()
        while self.idle:
            conn, since = self.idle.pop()
            if now - since < _IDLE_MAX:
                return conn
            self.drop(conn)
        self.open += 1
        return await asyncio.open_connection(self.host, self.port, limit=1 << 22)

    def put(self, conn: Conn) -> None:
        self.idle.append((conn, time.monotonic()))

    def drop(self, conn: Conn) -> None:
        self.open -= 1
        conn[1].close()

    def close(self) -> None:
        for (_, writer), _since in self.idle:
            writer.close()
        self.idle.clear()


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, float, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    first = time.perf_counter()
    status = int(head[9:12])
    lower = head.lower()
    keep = b"connection: close" not in lower
    if b"transfer-encoding: chunked" in lower:
        parts = []
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            chunk = await reader.readexactly(size + 2)
            parts.append(chunk[:-2])
        return status, b"".join(parts), first, keep
    marker = lower.find(b"content-length:")
    if marker >= 0:
        end = lower.find(b"\r\n", marker)
        length = int(lower[marker + 15:end])
        return status, await reader.readexactly(length), first, keep
    return status, await reader.read(), first, False


async def open_loop(host: str, port: int, request: bytes, rate: float, duration: float, *,
                    max_in_flight: int = 512, timeout: float = 10.0, drain: float = 10.0,
                    keep_bodies: bool = False) -> RunResult:
    """Send ``rate`` requests a second for ``duration`` seconds; collect every outcome."""
    pool = _Pool(host, port)
    result = RunResult(rate=rate, duration=duration)
    total = int(rate * duration)
    in_flight = 0

    async def one(due: float) -> None:
        nonlocal in_flight
        in_flight += 1
        conn = None
        try:
            conn = await pool.get()
            sent = time.perf_counter()
            result.late_ms.append((sent - due) * 1000)
            conn[1].write(request)
            status, body, first, keep = await asyncio.wait_for(_read_response(conn[0]),
                                                               timeout)
            end = time.perf_counter()
            result.latency_ms.append((end - sent) * 1000)
            result.ttfb_ms.append((first - sent) * 1000)
            result.outcomes[str(status)] += 1
            if keep_bodies:
                result.bodies[(status, body)] += 1
            if keep:
                pool.put(conn)
            else:
                pool.drop(conn)
            conn = None
        except TimeoutError:
            result.outcomes["client-timeout"] += 1
        except (asyncio.IncompleteReadError, ConnectionError):
            result.outcomes["broken"] += 1
        except OSError:
            result.outcomes["connect-error"] += 1
        finally:
            in_flight -= 1
            if conn is not None:
                pool.drop(conn)

    tasks: list[asyncio.Task[None]] = []
    start = time.perf_counter() + 0.02
    i = 0
    while i < total:
        now = time.perf_counter()
        due = start + i / rate
        if due > now + 0.0005:
            await asyncio.sleep(due - now)
            continue
        while i < total and start + i / rate <= now + 0.0005:
            if in_flight >= max_in_flight:
                result.outcomes["not-sent-overload"] += 1
            else:
                tasks.append(asyncio.create_task(one(start + i / rate)))
                result.sent += 1
            i += 1
    _done, pending = await asyncio.wait(tasks, timeout=drain) if tasks else (set(), set())
    for task in pending:
        task.cancel()
    if pending:
        result.outcomes["unfinished"] += len(pending)
        await asyncio.gather(*pending, return_exceptions=True)
    result.elapsed = time.perf_counter() - start
    pool.close()
    return result
