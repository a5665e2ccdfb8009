"""The traffic-log writer: a bounded queue in front of rotating JSONL (or gzip) files.

Durability contract (docs/gateway.md repeats it):

- ``submit`` never drops a record. When the queue is full it waits (back-pressure: the
  call that produced the record finishes later), and the wait is counted.
- Records leave the process at least every ``flush_interval`` seconds (and whenever 1 MiB
  is pending). A crash (``kill -9``, OOM) loses what was not yet written: at most the last
  flush interval, plus whatever the queue still held if the writer was behind. A clean
  shutdown (SIGTERM, SIGINT) writes everything.
- Written means handed to the operating system; with ``fsync`` on it also survives power
  loss, at some cost.
- Gzip files are a sequence of complete gzip members, one per flush, so a file cut short by a
  crash is still readable up to its last flush.

Writes run in a thread of their own at Linux's ``SCHED_IDLE`` priority. The gateway's process
usually has one core; a flush (about a megabyte copied into the page cache, compressed too
with ``gzip``) at normal priority took that core from the event loop for a few milliseconds
once a second, which showed in the proxy's p99. At idle priority the kernel hands the core
back to the event loop as soon as it has work, and the flush takes the gaps.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from distillwatch.gateway._priority import IdleUnlessStarved

__all__ = ["LogWriterStats", "TrafficLogWriter"]

_log = logging.getLogger("distillwatch.gateway")
_FLUSH_BYTES = 1 << 20
_TICK = 0.02
_STOP: Any = object()


@dataclass
class LogWriterStats:
    """Counters the metrics endpoint exports."""

    submitted: int = 0
    written: int = 0
    backpressure_waits: int = 0
    flushes: int = 0
    files: int = 0
    write_errors: int = 0


class TrafficLogWriter:
    """Write traffic-log v1 records to ``directory`` from a background task."""

    def __init__(self, directory: str | Path, *, compress: bool = False,
                 flush_interval: float = 1.0, rotate_bytes: int = 256 * 1024 * 1024,
                 rotate_seconds: float = 3600.0, queue_size: int = 10_000,
                 fsync: bool = False, idle_priority: bool = True) -> None:
        self.directory = Path(directory)
        self.compress = compress
        self.flush_interval = flush_interval
        self.rotate_bytes = rotate_bytes
        self.rotate_seconds = rotate_seconds
        self.fsync = fsync
        self.stats = LogWriterStats()
        self._queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=queue_size)
        self._task: asyncio.Task[None] | None = None
        self._file: BinaryIO | None = None
        self._file_bytes = 0
        self._file_opened = 0.0
        self._seq = 0
        self.paths: list[Path] = []
        self.idle_priority = idle_priority
        self._priority: IdleUnlessStarved | None = None  # made in the writer thread
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="distillwatch-log",
                                            initializer=self._start_thread)

    @property
    def depth(self) -> int:
        """Records waiting to be written."""
        return self._queue.qsize()

    async def start(self) -> None:
        """Create the folder and start the writer task."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self._task = asyncio.create_task(self._run(), name="distillwatch-log-writer")

    async def submit(self, record: dict[str, Any]) -> None:
        """Queue one record; waits when the queue is full (never drops).

        The record is serialised here, so the queue holds bytes: nothing waiting for a flush
        is left for the garbage collector to walk.
        """
        await self.submit_line(orjson.dumps(record) + b"\n")

    async def submit_line(self, line: bytes) -> None:
        """Queue one record already serialised (one JSON line, newline included)."""
        self.stats.submitted += 1
        try:
            self._queue.put_nowait(line)
        except asyncio.QueueFull:
            self.stats.backpressure_waits += 1
            await self._queue.put(line)

    async def close(self) -> None:
        """Write every queued record, close the current file and stop."""
        if self._task is None:
            return
        await self._queue.put(_STOP)
        await self._task
        self._task = None
        self._executor.shutdown(wait=True)

    async def _run(self) -> None:
        """Wake on a short tick, take everything queued, write when the interval is due.

        Ticking instead of waking per record keeps the writer's cost per call to a queue
        append; records still leave within ``flush_interval``.
        """
        tick = min(self.flush_interval, _TICK)
        pending: list[bytes] = []
        pending_bytes = 0
        deadline: float | None = None
        stopping = False
        loop = asyncio.get_running_loop()
        while not stopping:
            await asyncio.sleep(tick)
            while True:
                try:
                    line = self._queue.get_nowait()
                except asyncio.QueueEmpty:
                    break
                if line is _STOP:
                    stopping = True
                    continue
                pending.append(line)
                pending_bytes += len(line)
            if pending and deadline is None:
                deadline = loop.time() + self.flush_interval
            due = deadline is not None and loop.time() >= deadline - tick / 2
            if pending and (stopping or due or pending_bytes >= _FLUSH_BYTES):
                lines, pending, pending_bytes, deadline = pending, [], 0, None
                await self._flush(lines)
        await asyncio.get_running_loop().run_in_executor(self._executor, self._close_file)

    async def _flush(self, lines: list[bytes]) -> None:
        """Write ``lines`` from a worker thread (compression and disk stay off the loop)."""
        while True:
            try:
                await asyncio.get_running_loop().run_in_executor(self._executor, self._write,
                                                                 lines)
                break
            except OSError as exc:  # disk full, permissions: keep the records and retry
                self.stats.write_errors += 1
                _log.error("traffic log write failed (%s); retrying in 1 s, %d records held",
                           exc, len(lines))
                await asyncio.sleep(1.0)
        self.stats.written += len(lines)
        self.stats.flushes += 1

    def _start_thread(self) -> None:
        """In the writer thread: idle priority, ordinary again while flushes starve."""
        self._priority = IdleUnlessStarved(self.idle_priority)

    def _write(self, lines: list[bytes]) -> None:
        wall, cpu = time.monotonic(), time.thread_time()
        try:
            self._write_now(lines)
        finally:
            if self._priority is not None:
                self._priority.observe(time.monotonic() - wall, time.thread_time() - cpu)

    def _write_now(self, lines: list[bytes]) -> None:
        now = time.time()
        if self._file is not None and (self._file_bytes >= self.rotate_bytes
                                       or now - self._file_opened >= self.rotate_seconds):
            self._close_file()
        if self._file is None:
            self._open_file(now)
        assert self._file is not None
        data = b"".join(lines)
        if self.compress:
            data = gzip.compress(data, compresslevel=6, mtime=0)
        self._file.write(data)
        self._file.flush()
        if self.fsync:
            os.fsync(self._file.fileno())
        self._file_bytes += len(data)

    def _open_file(self, now: float) -> None:
        self._seq += 1
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
        suffix = ".jsonl.gz" if self.compress else ".jsonl"
        path = self.directory / f"traffic-{stamp}-{os.getpid()}-{self._seq:04d}{suffix}"
        self._file = open(path, "ab")  # noqa: SIM115 - kept open across flushes
        self._file_bytes = 0
        self._file_opened = now
        self.paths.append(path)
        self.stats.files += 1

    def _close_file(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None
