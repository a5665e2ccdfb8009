"""Where alerts go: a JSONL file, and optionally a webhook that may fail without harm.

A sink takes alerts in batches. The JSONL sink writes and flushes each batch (an alert on disk
is an alert raised). The webhook sink hands batches to a background thread with a bounded
queue: delivery is retried with exponential backoff, and when the endpoint stays down the
alerts that could not be delivered are counted (and kept in the JSONL file), never waited on,
so a failing sink never slows scoring.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

import orjson

from distillwatch.detect._live import Alert

__all__ = ["AlertSink", "JsonlSink", "WebhookSink", "WebhookStats"]


class AlertSink(Protocol):
    def emit(self, alerts: Sequence[Alert]) -> None: ...

    def close(self) -> None: ...


class JsonlSink:
    """Appends one JSON line per alert and flushes after every batch."""

    def __init__(self, path: str | Path, *, append: bool = False) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh: IO[bytes] = self.path.open("ab" if append else "wb")
        self.written = 0

    def emit(self, alerts: Sequence[Alert]) -> None:
        if not alerts:
            return
        self._fh.write(b"".join(orjson.dumps(a.to_json()) + b"\n" for a in alerts))
        self._fh.flush()
        self.written += len(alerts)

    def close(self) -> None:
        self._fh.close()


@dataclass
class WebhookStats:
    """What the webhook sink did: batches and alerts delivered, retried, given up on."""

    delivered_alerts: int = 0
    delivered_batches: int = 0
    retries: int = 0
    failed_alerts: int = 0
    dropped_alerts: int = 0  # queue full: the endpoint is too slow or down for long
    last_error: str | None = None


class WebhookSink:
    """POSTs alert batches as JSON (``{"alerts": [...]}``) from a background thread."""

    def __init__(self, url: str, *, timeout: float = 5.0, retries: int = 4,
                 backoff: float = 0.5, max_backoff: float = 30.0, queue_size: int = 1000,
                 headers: dict[str, str] | None = None) -> None:
        self.url = url
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.headers = {"Content-Type": "application/json", **(headers or {})}
        self.stats = WebhookStats()
        self._queue: queue.Queue[list[Alert] | None] = queue.Queue(maxsize=queue_size)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="webhook-sink", daemon=True)
        self._thread.start()

    def emit(self, alerts: Sequence[Alert]) -> None:
        if not alerts:
            return
        try:
            self._queue.put_nowait(list(alerts))
        except queue.Full:
            self.stats.dropped_alerts += len(alerts)

    def _post(self, body: bytes) -> None:
        request = urllib.request.Request(self.url, data=body, headers=self.headers,
                                         method="POST")
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            response.read()

    def _deliver(self, batch: list[Alert]) -> None:
        body = orjson.dumps({"alerts": [a.to_json() for a in batch]})
        delay = self.backoff
        for attempt in range(self.retries + 1):
            try:
                self._post(body)
            except (urllib.error.URLError, OSError, TimeoutError) as exc:
                self.stats.last_error = str(exc)
                if attempt == self.retries or self._stop.wait(0):
                    break
                self.stats.retries += 1
                if self._stop.wait(delay):  # shutting down: one last try, no more waiting
                    continue
                delay = min(delay * 2, self.max_backoff)
                continue
            self.stats.delivered_alerts += len(batch)
            self.stats.delivered_batches += 1
            return
        self.stats.failed_alerts += len(batch)

    def _run(self) -> None:
        while True:
            batch = self._queue.get()
            if batch is None:
                return
            self._deliver(batch)

    def close(self, timeout: float = 10.0) -> None:
        """Deliver what is queued (within ``timeout`` seconds), then stop."""
        deadline = time.monotonic() + timeout
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=max(timeout, 0.1))
        self._thread.join(max(deadline - time.monotonic(), 0.0))
        if self._thread.is_alive():
            self._stop.set()
            self._thread.join(self.timeout + 1.0)
        while True:  # anything still queued was never delivered: count it
            try:
                left = self._queue.get_nowait()
            except queue.Empty:
                break
            if left:
                self.stats.failed_alerts += len(left)
