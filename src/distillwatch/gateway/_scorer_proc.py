"""The gateway's side of the scorer process: hand records over, apply what comes back.

The scorer runs in a process of its own (``_scorer_child``), so its CPU and its pauses never
land on the proxy's event loop. On the request path the gateway only appends the record's
log line (bytes it serialised for the traffic log anyway) to a bounded list; a task sends
that list as one frame per tick. Nothing here ever waits for the scorer:

- at most ``queue_size`` records wait to be sent and at most ``buffer_bytes`` sit unread in
  the socket; past that, a record is counted as unscored and not sent (the traffic log has
  it: the log writer is the gateway's, not the scorer's);
- the scorer's answers (accounts whose standing changed, alerts, counters) are applied on the
  gateway's loop: ``risk_of`` is a dict read;
- a scorer that dies is noticed (end of its socket), logged, shown in health and metrics, and
  started again from its last snapshot, with a back-off; the records it had been sent but
  not yet scored are counted as unscored. One that stops making progress for
  ``stall_seconds`` while records wait is killed and started again the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from distillwatch.act import Ladder
from distillwatch.detect._live import Alert, LiveRisk
from distillwatch.errors import ConfigError
from distillwatch.gateway._wire import FrameBuffer, Kind, encode_frame

__all__ = ["RiskTable", "ScorerProcess", "ScorerSpec"]

_log = logging.getLogger("distillwatch.gateway")
_BACKOFF_MAX = 30.0
_READ = 1 << 20


@dataclass(frozen=True)
class ScorerSpec:
    """What the scorer process runs: ``factory`` (``module:function``, importable in a fresh
    interpreter) is called there with ``options`` (JSON-able) and the state path and returns
    ``(scorer, restored)``. The default runs ``OnlineDetector``."""

    factory: str = "distillwatch.gateway._scorer_child:online_detector"
    options: Mapping[str, Any] = field(default_factory=dict)


class RiskTable:
    """Each account's standing as the scorer process last published it (``risk_of``)."""

    def __init__(self) -> None:
        self._by_id: dict[str, LiveRisk] = {}

    def risk_of(self, account_id: str) -> LiveRisk | None:
        """The account's last published standing (None before its first)."""
        return self._by_id.get(account_id)

    def __len__(self) -> int:
        return len(self._by_id)

    def apply(self, rows: Sequence[Sequence[Any]]) -> None:
        """Take ``[account, risk, reasons, calls, allowlisted, cluster]`` rows."""
        for account, risk, reasons, calls, allowlisted, cluster in rows:
            self._by_id[account] = LiveRisk(account, float(risk), tuple(reasons), int(calls),
                                            allowlisted=bool(allowlisted), cluster_id=cluster)

    def replace(self, rows: Sequence[Sequence[Any]]) -> None:
        """Start again from a full table (a freshly started or restored scorer's)."""
        self._by_id = {}
        self.apply(rows)


def _alert(obj: Mapping[str, Any]) -> Alert:
    return Alert(ts=obj["ts"], account_id=obj["account_id"], request_id=obj["request_id"],
                 risk=float(obj["risk"]), action=obj["action"], reasons=tuple(obj["reasons"]),
                 calls=int(obj.get("calls", 0)), output_tokens=int(obj.get("output_tokens", 0)),
                 cluster_id=obj.get("cluster_id"))


class _Child:
    """One run of the scorer process: the process, its socket, what it has been sent."""

    def __init__(self, proc: subprocess.Popen[bytes], reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.proc = proc
        self.reader = reader
        self.writer = writer
        self.ready = False
        self.frames_sent = 0
        self.frames_done = 0
        self.observed = 0
        self.in_flight: deque[tuple[int, int, float]] = deque()  # (frame, records, sent at)
        self.last_progress = time.monotonic()

    def unacknowledged(self) -> int:
        """Records sent and not yet reported scored."""
        return sum(n for _, n, _ in self.in_flight)


class ScorerProcess:
    """Feeds a scorer process and mirrors its answers (a ``feed`` for the gateway)."""

    def __init__(self, spec: ScorerSpec, *, ladder: Ladder, on_alert: Callable[[Alert], None],
                 state: Path | None = None, batch_max: int = 256, queue_size: int = 100_000,
                 buffer_bytes: int = 16 << 20, tick: float = 0.5,
                 checkpoint_seconds: float = 300.0, stall_seconds: float = 120.0,
                 start_timeout: float = 120.0, cpus: Sequence[int] | None = None,
                 nice: int = 0, idle: bool = False) -> None:
        self.spec = spec
        self.ladder = ladder
        self.on_alert = on_alert
        self.state = state
        self.batch_max = batch_max
        self.queue_size = queue_size
        self.buffer_bytes = buffer_bytes
        self.tick = tick
        self.checkpoint_seconds = checkpoint_seconds
        self.stall_seconds = stall_seconds
        self.start_timeout = start_timeout
        self.cpus = list(cpus) if cpus else None
        self.nice = nice
        self.idle = idle
        self.table = RiskTable()
        self._pending: list[bytes] = []
        self._child: _Child | None = None
        self._stopping = False
        self._ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._failed_start = asyncio.Event()
        self._starting = False
        self._tasks: list[asyncio.Task[None]] = []
        # counters (over every run of the process)
        self.submitted = 0
        self.sent = 0
        self.unscored = 0
        self.alerts = 0
        self.errors = 0
        self.rejected = 0
        self.restarts = 0
        self.checkpoints = 0
        self.checkpoint_errors = 0
        self.busy_seconds = 0.0
        self.last_batch_seconds = 0.0
        self.restored = False
        self.scorer_name = ""
        self.last_exit: int | None = None
        self._observed_before = 0
        self._busy_before = 0.0

    # -------------------------------------------------------------- what the gateway reads
    @property
    def alive(self) -> bool:
        """True while a scorer process runs and has said hello."""
        child = self._child
        return child is not None and child.ready and child.proc.poll() is None

    @property
    def pid(self) -> int | None:
        """The scorer process's pid (None when none runs)."""
        return None if self._child is None else self._child.proc.pid

    @property
    def observed(self) -> int:
        """Records the scorer has reported scored (over every run)."""
        child = self._child
        return self._observed_before + (child.observed if child is not None else 0)

    @property
    def depth(self) -> int:
        """Records waiting: not yet sent, plus sent and not yet scored."""
        child = self._child
        return len(self._pending) + (child.unacknowledged() if child is not None else 0)

    @property
    def dropped(self) -> int:
        """Records never scored (the metrics' ``scoring_dropped_total``)."""
        return self.unscored

    @property
    def lag_seconds(self) -> float:
        """Age of the oldest record sent and not yet scored (0 when caught up)."""
        child = self._child
        if child is None or not child.in_flight:
            return 0.0
        return time.monotonic() - child.in_flight[0][2]

    # --------------------------------------------------------------------- life cycle
    async def start(self) -> None:
        """Start the process and wait (up to ``start_timeout``) until it is ready.

        A scorer that exits before it was ever ready (a bad factory, an unreadable state
        file) is a configuration error: ``ConfigError``, and the gateway does not start. One
        that is merely slow is logged and waited for in the background; the gateway serves
        meanwhile (records wait in the bounded list, then count as unscored).
        """
        self._tasks = [asyncio.create_task(self._supervise(), name="distillwatch-scorer"),
                       asyncio.create_task(self._pump(), name="distillwatch-scorer-pump")]
        self._starting = True
        ready = asyncio.create_task(self._ready.wait())
        failed = asyncio.create_task(self._failed_start.wait())
        await asyncio.wait({ready, failed}, timeout=self.start_timeout,
                           return_when=asyncio.FIRST_COMPLETED)
        self._starting = False
        ready.cancel()
        failed.cancel()
        if self._failed_start.is_set() and not self._ready.is_set():
            await self.close()
            raise ConfigError(f"the scorer process exited during start-up (code "
                              f"{self.last_exit}) before it was ready: its error is above "
                              f"(factory {self.spec.factory!r}, state {self.state})")
        if not self._ready.is_set():
            _log.error("scorer process not ready after %.0f s; serving without scores until "
                       "it is", self.start_timeout)

    def submit(self, line: bytes) -> None:
        """Queue one record's log line for scoring; never waits (counts it when full)."""
        self.submitted += 1
        if len(self._pending) >= self.queue_size:
            self.unscored += 1
            return
        self._pending.append(line)

    def set_ladder(self, ladder: Ladder) -> None:
        """The gateway's ladder changed (reload): the scorer publishes steps under it."""
        self.ladder = ladder
        child = self._child
        if child is not None and child.ready:
            child.writer.write(encode_frame(Kind.LADDER, orjson.dumps(self._ladder_json())))

    def request_checkpoint(self) -> None:
        """Ask the scorer to save its state now (it answers when done)."""
        child = self._child
        if child is not None and child.ready:
            child.writer.write(encode_frame(Kind.SAVE))

    async def close(self, timeout: float = 300.0) -> None:
        """Send what is queued, let the scorer score it and save its state, then stop it."""
        self._stopping = True
        self._stop.set()
        child = self._child
        if child is not None and child.ready and child.proc.poll() is None:
            self._send_pending(child, force=True)
            with contextlib.suppress(ConnectionError, RuntimeError):
                child.writer.write(encode_frame(Kind.QUIT))
        elif child is not None:
            child.proc.kill()
        supervise = self._tasks[0] if self._tasks else None
        if supervise is not None:
            try:
                await asyncio.wait_for(asyncio.shield(supervise), timeout)
            except TimeoutError:
                _log.error("scorer process did not finish within %.0f s; killing it", timeout)
                if self._child is not None:
                    self._child.proc.kill()
                await supervise
        for task in self._tasks[1:]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.unscored += len(self._pending)
        self._pending = []

    # ------------------------------------------------------------------------ internals
    def _ladder_json(self) -> dict[str, Any]:
        return {"thresholds": dict(self.ladder.thresholds),
                "allowlisted_max": self.ladder.allowlisted_max}

    def _config_json(self) -> dict[str, Any]:
        return {"factory": self.spec.factory, "options": dict(self.spec.options),
                "state": None if self.state is None else str(self.state),
                "checkpoint_seconds": self.checkpoint_seconds, "batch_max": self.batch_max,
                "ladder": self._ladder_json(), "cpus": self.cpus, "nice": self.nice,
                "idle": self.idle}

    async def _spawn(self) -> _Child:
        ours, theirs = socket.socketpair()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "distillwatch.gateway._scorer_child",
                 str(theirs.fileno())],
                pass_fds=(theirs.fileno(),), env=env, stdin=subprocess.DEVNULL)
        finally:
            theirs.close()
        ours.setblocking(False)
        reader, writer = await asyncio.open_connection(sock=ours, limit=_READ)
        writer.write(encode_frame(Kind.CONFIG, orjson.dumps(self._config_json())))
        return _Child(proc, reader, writer)

    async def _supervise(self) -> None:
        """Run the scorer; when it ends without being asked to, log it and start it again."""
        backoff = 0.5
        while not self._stopping:
            started = time.monotonic()
            try:
                child = await self._spawn()
            except OSError as exc:
                _log.error("cannot start the scorer process: %s", exc)
                child = None
            if child is not None:
                self._child = child
                await self._watch(child)
                code = await asyncio.to_thread(child.proc.wait)
                self.last_exit = code
                self._retire(child)
                if self._starting and not self._ready.is_set():
                    self._failed_start.set()
                    return
            if self._stopping:
                return
            if time.monotonic() - started > 60:
                backoff = 0.5
            self.restarts += 1
            _log.error("scorer process exited (code %s); restarting it in %.1f s from its "
                       "last snapshot (%s); %d records counted unscored so far",
                       self.last_exit, backoff, self.state or "no --state: a fresh scorer",
                       self.unscored)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), backoff)
            backoff = min(backoff * 2, _BACKOFF_MAX)

    def _retire(self, child: _Child) -> None:
        """A run ended: what it was sent and did not score is unscored; keep its totals."""
        self.unscored += child.unacknowledged()
        child.in_flight.clear()
        self._observed_before += child.observed
        child.observed = 0
        self._busy_before = self.busy_seconds
        with contextlib.suppress(Exception):
            child.writer.close()
        self._child = None if self._child is child else self._child

    async def _watch(self, child: _Child) -> None:
        """Read the child's frames until its socket ends; kill it if it stalls."""
        reading = asyncio.create_task(self._read(child))
        while not reading.done():
            await asyncio.wait({reading}, timeout=1.0)
            if (child.ready and child.in_flight and not self._stopping
                    and time.monotonic() - max(child.last_progress, child.in_flight[0][2])
                    > self.stall_seconds):
                _log.error("scorer process made no progress for %.0f s with %d records "
                           "waiting; killing it", self.stall_seconds, child.unacknowledged())
                child.proc.kill()
        with contextlib.suppress(Exception):
            reading.result()

    async def _read(self, child: _Child) -> None:
        buffer = FrameBuffer()
        try:
            while True:
                data = await child.reader.read(_READ)
                if not data:
                    return
                buffer.feed(data)
                for kind, payload in buffer.frames():
                    self._handle(child, kind, payload)
        except (ConnectionError, ValueError) as exc:
            _log.error("scorer process connection failed: %s", exc)

    def _handle(self, child: _Child, kind: int, payload: bytes) -> None:
        body: Any = orjson.loads(payload) if payload else {}
        if kind == Kind.UPDATES:
            self.table.apply(body)
        elif kind == Kind.STATS:
            self._progress(child, body)
        elif kind == Kind.ALERTS:
            for obj in body:
                self.alerts += 1
                try:
                    self.on_alert(_alert(obj))
                except Exception:
                    _log.exception("alert sink failed")
        elif kind == Kind.HELLO:
            self.table.replace(body["table"])
            self.restored = bool(body["restored"])
            self.scorer_name = str(body["scorer"])
            child.ready = True
            child.last_progress = time.monotonic()
            self._ready.set()
            _log.info("scorer process %s ready (%s%s, %d accounts)", body["pid"],
                      self.scorer_name, ", state restored" if self.restored else "",
                      len(body["table"]))
        elif kind == Kind.SAVED:
            if body.get("ok"):
                self.checkpoints += 1
            else:
                self.checkpoint_errors += 1
                _log.error("scorer checkpoint failed: %s", body.get("error", "not saved"))

    def _progress(self, child: _Child, stats: Mapping[str, Any]) -> None:
        child.frames_done = int(stats["frames"])
        while child.in_flight and child.in_flight[0][0] <= child.frames_done:
            child.in_flight.popleft()
        child.observed = int(stats["observed"])
        child.last_progress = time.monotonic()
        self.errors = int(stats["errors"])
        self.rejected = int(stats["rejected"])
        self.busy_seconds = self._busy_before + float(stats["busy_s"])
        self.last_batch_seconds = float(stats["batch_s"])

    def _send_pending(self, child: _Child, *, force: bool = False) -> None:
        """One frame with every queued line, unless the scorer's socket is backed up."""
        if not self._pending:
            return
        transport = child.writer.transport
        if transport.is_closing():
            return
        if not force and transport.get_write_buffer_size() > self.buffer_bytes:
            return
        lines, self._pending = self._pending, []
        child.writer.write(encode_frame(Kind.RECORDS, b"".join(lines)))
        child.frames_sent += 1
        child.in_flight.append((child.frames_sent, len(lines), time.monotonic()))
        self.sent += len(lines)

    async def _pump(self) -> None:
        """Every tick, hand the queued lines to a ready scorer."""
        while True:
            await asyncio.sleep(self.tick)
            child = self._child
            if child is not None and child.ready and not self._stopping:
                # a scorer that just died is the supervisor's business
                with contextlib.suppress(ConnectionError, RuntimeError):
                    self._send_pending(child)
