"""The scorer process: runs the live scorer on the records the gateway sends it.

The gateway starts it (``python -m distillwatch.gateway._scorer_child FD``) with one end of a
socket pair and sends, in frames (``_wire``): the config, then the traffic-log lines of the
calls it served, batched by time. This process observes them in whatever batches have
arrived since its last pass (a batch costs the detector a few milliseconds whatever its size,
so batches are sized by time, not taken per call), and sends back, after each pass:

- the accounts whose standing changed (ladder step under the gateway's ladder, risk by
  ``RISK_STEP`` or more, reasons, ring, allowlisting): the gateway's ``risk_of`` is a dict
  read of these;
- the alerts the scorer raised (the gateway writes them to its alert sinks);
- counters (frames and records done: the gateway's lag and unscored figures).

It saves the scorer's state every ``checkpoint_seconds``, on request, and before it exits:
on ``QUIT`` (the gateway's clean shutdown) and on end of input (the gateway died). It ignores
SIGINT and SIGTERM: the gateway drains and stops it, so a Ctrl-C or a service manager's
SIGTERM to the whole group loses no scoring.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import select
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from distillwatch.act import Ladder
from distillwatch.detect._live import Alert, LiveRisk, LiveScorer
from distillwatch.gateway._priority import IdleUnlessStarved
from distillwatch.gateway._scoring import restore_or_create, save_scorer
from distillwatch.gateway._wire import FrameBuffer, Kind, encode_frame

__all__ = ["RISK_STEP", "Publisher", "import_factory", "main", "online_detector"]

_log = logging.getLogger("distillwatch.scorer")

#: A published risk is re-sent once the live one has moved this far (or the step changed).
RISK_STEP = 0.005
_READ = 1 << 22
_ROUND_BYTES = 1 << 25  # at most this much input per pass (32 MiB)

Factory = Callable[[Mapping[str, Any], Path | None], tuple[LiveScorer, bool]]


def online_detector(options: Mapping[str, Any], state: Path | None
                    ) -> tuple[LiveScorer, bool]:
    """The default factory: ``OnlineDetector`` (restored from ``state`` when saved).

    ``options``: ``accounts`` (accounts file) and ``online`` (``OnlineConfig`` fields other
    than the ladder, e.g. smaller sketches for tests).
    """
    from distillwatch.detect import OnlineConfig, OnlineDetector

    accounts = options.get("accounts")
    online = dict(options.get("online") or {})
    config = OnlineConfig(**online) if online else None

    def create() -> LiveScorer:
        return OnlineDetector(accounts, config=config)

    return restore_or_create(OnlineDetector.load, create, state)


def import_factory(name: str) -> Factory:
    """``module:function`` to the function."""
    module, _, attr = name.partition(":")
    factory: Factory = getattr(importlib.import_module(module), attr)
    return factory


def _row(risk: LiveRisk) -> list[Any]:
    return [risk.account_id, risk.risk, list(risk.reasons), risk.calls, risk.allowlisted,
            risk.cluster_id]


class Publisher:
    """Which accounts' standing the gateway must hear about (and what it last heard)."""

    def __init__(self, ladder: Ladder) -> None:
        self.ladder = ladder
        self._last: dict[str, tuple[str, float, tuple[str, ...], str | None, bool]] = {}

    def changes(self, risks: Iterable[LiveRisk | None]) -> list[list[Any]]:
        """Rows for the accounts whose step, risk, reasons, ring or allowlisting changed."""
        out = []
        for risk in risks:
            if risk is None:
                continue
            action = self.ladder.action_for(risk.risk, allowlisted=risk.allowlisted)
            last = self._last.get(risk.account_id)
            if (last is None or last[0] != action or abs(last[1] - risk.risk) >= RISK_STEP
                    or last[2] != risk.reasons or last[3] != risk.cluster_id
                    or last[4] != risk.allowlisted):
                self._last[risk.account_id] = (action, risk.risk, risk.reasons,
                                               risk.cluster_id, risk.allowlisted)
                out.append(_row(risk))
        return out


def _risks(scorer: LiveScorer, accounts: Sequence[str]) -> list[LiveRisk | None]:
    many = getattr(scorer, "risks_of", None)
    if many is not None:
        found: list[LiveRisk | None] = many(accounts)
        return found
    return [scorer.risk_of(a) for a in accounts]


class ScorerLoop:
    """Read frames, observe, publish, checkpoint; until QUIT or end of input."""

    def __init__(self, sock: socket.socket, config: Mapping[str, Any]) -> None:
        self.sock = sock
        self.state = Path(config["state"]) if config.get("state") else None
        self.checkpoint_seconds = float(config.get("checkpoint_seconds", 300.0))
        self.batch_max = int(config.get("batch_max", 256))
        self.publisher = Publisher(_ladder(config["ladder"]))
        factory = import_factory(config["factory"])
        self.scorer, self.restored = factory(dict(config.get("options") or {}), self.state)
        self.buffer = FrameBuffer()
        self.frames = 0
        self.observed = 0
        self.alerts = 0
        self.errors = 0
        self.busy = 0.0
        self.next_checkpoint = time.monotonic() + self.checkpoint_seconds
        # idle priority: a pass never delays a waking proxy; ordinary again while starved
        self.priority = IdleUnlessStarved(bool(config.get("idle")))
        if config.get("idle") and not self.priority.enabled:
            _log.warning("SCHED_IDLE is not available; the scorer runs at its niceness only")

    def send(self, kind: int, obj: Any) -> None:
        """One frame to the gateway (blocking: only this process waits)."""
        self.sock.sendall(encode_frame(kind, orjson.dumps(obj)))

    def hello(self) -> None:
        """Say who we are, with every known account's standing (a restore's, say)."""
        listed = getattr(self.scorer, "accounts", None)
        accounts = list(listed()) if callable(listed) else []
        table = self.publisher.changes(_risks(self.scorer, accounts))
        self.send(Kind.HELLO, {"pid": os.getpid(), "restored": self.restored,
                               "scorer": type(self.scorer).__name__, "table": table})

    def run(self) -> None:
        """Serve until QUIT or end of input, then save and return."""
        self.hello()
        done = False
        while not done:
            timeout = max(0.0, self.next_checkpoint - time.monotonic()) \
                if self.state is not None else None
            ready, _, _ = select.select([self.sock], [], [], timeout)
            lines, save, done = self.read_round() if ready else ([], False, False)
            if lines:
                self.observe(lines)
            if save or done or (self.state is not None
                                and time.monotonic() >= self.next_checkpoint):
                self.checkpoint()

    def read_round(self) -> tuple[list[bytes], bool, bool]:
        """Everything that has arrived (up to ``_ROUND_BYTES``): record lines, save?, done?"""
        got = 0
        eof = False
        while got < _ROUND_BYTES:
            try:
                data = self.sock.recv(_READ)
            except ConnectionError:
                data = b""
            if not data:
                eof = True
                break
            got += len(data)
            self.buffer.feed(data)
            if not select.select([self.sock], [], [], 0)[0]:
                break
        lines: list[bytes] = []
        save = False
        quit_ = eof
        for kind, payload in self.buffer.frames():
            if kind == Kind.RECORDS:
                self.frames += 1
                lines.extend(line for line in payload.split(b"\n") if line)
            elif kind == Kind.LADDER:
                self.publisher.ladder = _ladder(orjson.loads(payload))
            elif kind == Kind.SAVE:
                save = True
            elif kind == Kind.QUIT:
                quit_ = True
        return lines, save, quit_

    def observe(self, lines: list[bytes]) -> None:
        """Observe in batches of ``batch_max``; publish changes, alerts and counters."""
        started, cpu = time.monotonic(), time.process_time()
        alerts: list[Alert] = []
        touched: dict[str, None] = {}
        for start in range(0, len(lines), self.batch_max):
            records = [orjson.loads(line) for line in lines[start:start + self.batch_max]]
            for record in records:
                account = record.get("account_id")
                if isinstance(account, str):
                    touched[account] = None
            try:
                alerts.extend(self.scorer.observe(records))
            except Exception:  # a scorer bug costs its batch, never the process
                self.errors += 1
                _log.exception("live scorer failed on a batch of %d calls", len(records))
        self.observed += len(lines)
        changed = self.publisher.changes(_risks(self.scorer, list(touched)))
        if changed:
            self.send(Kind.UPDATES, changed)
        if alerts:
            self.alerts += len(alerts)
            self.send(Kind.ALERTS, [a.to_json() for a in alerts])
        self.busy += time.monotonic() - started
        self.priority.observe(time.monotonic() - started, time.process_time() - cpu)
        self.send(Kind.STATS, {
            "frames": self.frames, "observed": self.observed, "alerts": self.alerts,
            "errors": self.errors, "busy_s": self.busy,
            "rejected": int(getattr(self.scorer, "rejected_", 0)),
            "batch_s": time.monotonic() - started,
        })

    def checkpoint(self) -> None:
        """Save the state (atomically) and tell the gateway how it went."""
        self.next_checkpoint = time.monotonic() + self.checkpoint_seconds
        if self.state is None:
            return
        started = time.monotonic()
        try:
            saved = save_scorer(self.scorer, self.state)
        except Exception as exc:
            _log.exception("scorer checkpoint to %s failed", self.state)
            self._tell_saved({"ok": False, "error": str(exc)})
            return
        self._tell_saved({"ok": saved, "seconds": round(time.monotonic() - started, 3),
                          "path": str(self.state)})

    def _tell_saved(self, body: dict[str, Any]) -> None:
        with contextlib.suppress(OSError):  # the gateway is gone: the file is what matters
            self.send(Kind.SAVED, body)


def _ladder(data: Mapping[str, Any]) -> Ladder:
    return Ladder(thresholds=dict(data["thresholds"]),
                  allowlisted_max=str(data["allowlisted_max"]))


def _read_config(sock: socket.socket) -> dict[str, Any]:
    buffer = FrameBuffer()
    while True:
        data = sock.recv(_READ)
        if not data:
            raise SystemExit("the gateway closed the scorer's socket before sending a config")
        buffer.feed(data)
        frames = buffer.frames()
        if frames:
            kind, payload = frames[0]
            if kind != Kind.CONFIG:
                raise SystemExit(f"scorer expected a config frame, got kind {kind}")
            rest = FrameBuffer()  # whatever followed the config, in order
            for later in frames[1:]:
                rest.feed(encode_frame(*later))
            rest.feed(buffer.take())
            config: dict[str, Any] = orjson.loads(payload)
            config["_buffer"] = rest
            return config


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: ``python -m distillwatch.gateway._scorer_child FD``."""
    args = list(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format=f"distillwatch scorer[{os.getpid()}] %(levelname)s %(message)s")
    sock = socket.socket(fileno=int(args[0]))
    sock.setblocking(True)
    config = _read_config(sock)
    cpus = config.get("cpus")
    if cpus and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, set(cpus))
    if config.get("nice"):
        os.nice(int(config["nice"]))  # yield to the proxy wherever we share a core
    loop = ScorerLoop(sock, config)
    loop.buffer = config.pop("_buffer")
    loop.run()
    sock.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
