"""The watch pipeline: replay logs in time order (or follow a growing one), alert as it goes.

This is the library form of ``distillwatch watch``. Replay stores the calls as ``scan`` does
(so overlapping logs count once), then streams them ordered by ``ts`` and ``request_id``
through the online detector; each alert names the call it was raised at and uses only calls
up to it. Every ``link_hours`` of traffic time the link stage runs over the calls seen so far,
and members of an operation score at least the operation's risk from their next call on.
The detector's state is saved every ``snapshot_seconds`` and at the end; a restart from it
skips the calls it already saw, so it loses no history and raises no alert twice.
"""

from __future__ import annotations

import signal
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import pyarrow as pa

from distillwatch.act._sinks import JsonlSink, WebhookSink
from distillwatch.detect import (
    HARVESTING,
    NORMAL,
    AccountScorer,
    Alert,
    ScoreResult,
    verdict_for,
)
from distillwatch.detect._online import FEATURE_COLUMNS, OnlineConfig, OnlineDetector
from distillwatch.errors import InputError
from distillwatch.features import call_features
from distillwatch.ingest import ACCOUNTS_SCHEMA, ReadStats, Store
from distillwatch.link import candidate_edges, link_graph, score_clusters
from distillwatch.scan import ScanOptions, ScanSummary, ingest

__all__ = ["WatchOptions", "WatchSummary", "follow", "watch"]

Progress = Callable[[int], None]


@dataclass(frozen=True)
class WatchOptions:
    """Everything ``watch`` needs besides its inputs."""

    alerts: Path
    accounts: str | None = None
    db: Path | None = None  # None: a temporary database, removed afterwards
    fmt: str = "traffic"
    strict: bool = False
    workers: int = 0
    state: Path | None = None
    snapshot_seconds: float = 60.0
    link_hours: float = 24.0  # 0: no periodic linking
    webhook: str | None = None
    batch_rows: int = 8192
    config: OnlineConfig = field(default_factory=OnlineConfig)


@dataclass
class WatchSummary:
    """What a watch run did, for the closing summary."""

    read: ReadStats = field(default_factory=ReadStats)
    added: int = 0
    duplicates: int = 0
    replayed: int = 0
    skipped: int = 0  # calls the restored state had already seen
    accounts: int = 0
    alerts: int = 0
    by_action: Counter[str] = field(default_factory=Counter)
    alerted_accounts: int = 0
    link_runs: int = 0
    operations: int = 0
    snapshots: int = 0
    restored: bool = False
    webhook: dict[str, Any] | None = None
    state_bytes: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    account_file_bad: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "lines": self.read.rows, "good_lines": self.read.good, "bad_lines": self.read.bad,
            "bad_by_file": self.read.bad_by_file,
            "bad_examples": [str(b) for b in self.read.bad_examples],
            "added": self.added, "duplicates": self.duplicates, "replayed": self.replayed,
            "skipped": self.skipped, "accounts": self.accounts, "alerts": self.alerts,
            "by_action": dict(self.by_action), "alerted_accounts": self.alerted_accounts,
            "link_runs": self.link_runs, "operations": self.operations,
            "snapshots": self.snapshots, "restored": self.restored, "webhook": self.webhook,
            "state_bytes": self.state_bytes,
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
        }


class _Alerting:
    """The alert sinks of one run, and what went through them."""

    def __init__(self, options: WatchOptions, *, append: bool) -> None:
        self.jsonl = JsonlSink(options.alerts, append=append)
        self.webhook = WebhookSink(options.webhook) if options.webhook else None
        self.accounts: set[str] = set()
        self.by_action: Counter[str] = Counter()

    def emit(self, alerts: list[Alert]) -> None:
        if not alerts:
            return
        self.jsonl.emit(alerts)
        if self.webhook is not None:
            self.webhook.emit(alerts)
        for alert in alerts:
            self.accounts.add(alert.account_id)
            self.by_action[alert.action] += 1

    def close(self, summary: WatchSummary) -> None:
        self.jsonl.close()
        if self.webhook is not None:
            self.webhook.close()
            summary.webhook = dict(self.webhook.stats.__dict__)
        summary.alerts = self.jsonl.written
        summary.by_action = self.by_action
        summary.alerted_accounts = len(self.accounts)


def _detector(options: WatchOptions, accounts: pa.Table | None) -> tuple[OnlineDetector, bool]:
    if options.state is not None and options.state.is_file():
        return OnlineDetector.load(options.state), True
    return OnlineDetector(accounts, config=options.config), False


def _iso(us: int) -> str:
    return datetime.fromtimestamp(us / 1e6, tz=UTC).strftime("%Y-%m-%d %H:%M:%S.%f+00")


def _live_scores(detector: OnlineDetector) -> tuple[AccountScorer, ScoreResult]:
    """The detector's standing as the batch types the link stage takes.

    The scorer carries the detector's live baselines (no profile pass over the whole store),
    and the scores are the accounts' current risks with scan's verdict rule.
    """
    scorer = AccountScorer(detector.model_)
    scorer.baselines_ = dict(detector.baselines_)
    scorer.raw_medians_ = dict(detector.medians_)
    scorer.reference_ = detector.reference_vector()
    scorer.model_ = detector.model_
    k = detector.n_accounts
    risk = detector.risk_[:k].copy()
    allow = detector.allowlisted_[:k]
    verdicts = [verdict_for(float(r), detector.model_, allowlisted=bool(a))
                for r, a in zip(risk, allow, strict=True)]
    return scorer, ScoreResult(detector.accounts(), risk, verdicts, [[] for _ in range(k)])


def link_until(store: Store, detector: OnlineDetector, until_us: int) -> int:
    """Run the link stage over the calls up to ``until_us`` and hand rings to the detector.

    The store's ``calls`` are seen through a view cut at ``until_us`` (a schema first on the
    search path), so the link stage's own edge, graph and cluster-scoring code runs unchanged
    on exactly the calls a live system would have had. Returns the number of operations.
    """
    scorer, scores = _live_scores(detector)
    flagged = [a for a, v in zip(scores.account_ids, scores.verdicts, strict=True)
               if v == HARVESTING]
    con = store.con
    con.execute("CREATE SCHEMA IF NOT EXISTS upto")
    # the cut is a timestamp we formatted ourselves, not input text
    con.execute("CREATE OR REPLACE VIEW upto.calls AS SELECT * FROM main.calls "
                f"WHERE ts <= TIMESTAMPTZ '{_iso(until_us)}'")
    con.execute("SET search_path = 'upto,main'")
    try:
        edges, _population = candidate_edges(store, flagged=flagged)
        linking = link_graph(edges)
        scored = score_clusters(store, linking, scorer, scores)
    finally:
        con.execute("SET search_path = 'main'")
    if scored is None:
        detector.set_clusters({}, {})
        return 0
    _profiles, cluster_scores = scored
    risks = {cid: float(r) for cid, r, v in zip(cluster_scores.account_ids, cluster_scores.risk,
                                               cluster_scores.verdicts, strict=True)
             if v != NORMAL}
    detector.set_clusters(linking.membership, risks)
    return len(risks)


def _replay_batches(store: Store, detector: OnlineDetector, rows: int
                    ) -> Iterator[pa.RecordBatch]:
    columns = ", ".join(FEATURE_COLUMNS)
    last_us, last_id = detector.last_key_
    where = ""
    params: list[Any] = []
    if detector.calls_:
        where = ("WHERE epoch_us(ts) > ? OR (epoch_us(ts) = ? AND request_id > ?)")
        params = [last_us, last_us, last_id]
    # a cursor of its own, so the link stage can query the store between batches
    cursor = store.con.cursor()
    try:
        relation = cursor.sql(f"SELECT {columns} FROM main.calls {where} "
                              "ORDER BY ts, request_id", params=params)
        yield from relation.to_arrow_reader(rows)
    finally:
        cursor.close()


class _Snapshots:
    """Saves the detector every ``seconds`` of wall time and on request."""

    def __init__(self, path: Path | None, seconds: float) -> None:
        self.path = path
        self.seconds = seconds
        self.last = time.monotonic()
        self.count = 0

    def maybe(self, detector: OnlineDetector, *, force: bool = False) -> None:
        if self.path is None:
            return
        if force or time.monotonic() - self.last >= self.seconds:
            detector.save(self.path)
            self.count += 1
            self.last = time.monotonic()


def watch(inputs: Sequence[str], options: WatchOptions, *, on_rows: Progress | None = None,
          on_stage: Callable[[str], None] | None = None,
          on_replay: Progress | None = None) -> WatchSummary:
    """Replay ``inputs`` in time order through the online detector, writing alerts."""
    summary = WatchSummary()
    stage = on_stage or (lambda _name: None)
    with tempfile.TemporaryDirectory(prefix="distillwatch-watch-") as tmp:
        db = options.db or Path(tmp) / "watch.duckdb"
        with Store(db) as store:
            t0 = time.perf_counter()
            stage("ingest")
            scan_summary = ScanSummary(read=summary.read)
            ingest(store, inputs, ScanOptions(out=options.alerts.parent, db=db,
                                              accounts=options.accounts, fmt=options.fmt,
                                              strict=options.strict, workers=options.workers),
                   scan_summary, on_rows)
            summary.added = scan_summary.added
            summary.duplicates = scan_summary.duplicates
            summary.account_file_bad = scan_summary.account_file_bad
            if store.count_calls() == 0:
                raise InputError("no usable call in the inputs"
                                 + (f" ({summary.read.bad} bad lines)" if summary.read.bad
                                    else ""), path=", ".join(summary.read.files) or None)
            t1 = time.perf_counter()
            stage("replay")
            store.ensure_accounts(ACCOUNTS_SCHEMA)
            accounts = store.query_arrow("SELECT * FROM accounts")
            detector, summary.restored = _detector(options, accounts)
            before = detector.calls_
            sinks = _Alerting(options, append=summary.restored)
            snapshots = _Snapshots(options.state, options.snapshot_seconds)
            link_every = int(options.link_hours * 3_600e6)
            next_link: int | None = None
            link_seconds = 0.0
            try:
                for batch in _replay_batches(store, detector, options.batch_rows):
                    if link_every:
                        ts = batch.column("ts")
                        first_us = int(pa.compute.cast(ts[0], pa.int64()).as_py())
                        if next_link is None:
                            next_link = first_us + link_every
                        if first_us >= next_link:
                            t = time.perf_counter()
                            summary.operations = link_until(store, detector, first_us - 1)
                            link_seconds += time.perf_counter() - t
                            summary.link_runs += 1
                            next_link = first_us + link_every
                    sinks.emit(detector.observe_features(batch))
                    if on_replay:
                        on_replay(batch.num_rows)
                    snapshots.maybe(detector)
            finally:
                snapshots.maybe(detector, force=True)
                sinks.close(summary)
            summary.replayed = detector.calls_ - before
            summary.skipped = max(store.count_calls() - summary.replayed, 0)
            summary.accounts = detector.n_accounts
            summary.snapshots = snapshots.count
            summary.state_bytes = detector.state_bytes()
            t2 = time.perf_counter()
            summary.seconds = {"ingest": t1 - t0, "replay": t2 - t1 - link_seconds,
                               "link": link_seconds, "total": t2 - t0}
    return summary


# ------------------------------------------------------------------------------ follow mode
class _Stop:
    """SIGINT/SIGTERM ask the follow loop to finish its batch, snapshot and return."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.event.set()

    def install(self) -> Callable[[], None]:
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        old = {s: signal.signal(s, self) for s in (signal.SIGINT, signal.SIGTERM)}

        def restore() -> None:
            for s, handler in old.items():
                signal.signal(s, handler)

        return restore


def _new_lines(path: Path, offset: int, limit: int) -> tuple[list[bytes], int]:
    """Complete lines appended to ``path`` since ``offset`` (a partial last line waits)."""
    with path.open("rb") as fh:
        fh.seek(offset)
        data = fh.read(limit)
    end = data.rfind(b"\n")
    if end < 0:
        return [], offset
    return data[: end + 1].splitlines(), offset + end + 1


def follow(path: Path, options: WatchOptions, *, poll_seconds: float = 0.5,
           stop: threading.Event | None = None, on_replay: Progress | None = None
           ) -> WatchSummary:
    """Tail a growing traffic log: score new calls as they are appended, until stopped.

    Calls are scored in the order they are written (a live log is in arrival order). The
    file offset and line number are kept with the detector's state, so a restart resumes
    after the last complete line it scored. Bad lines are counted and kept as in ``scan``.
    """
    from distillwatch.ingest._reader import BadLine, convert_item, to_batch
    from distillwatch.ingest._traffic import decode_line

    summary = WatchSummary()
    accounts = None
    if options.accounts:
        from distillwatch.ingest import read_accounts

        accounts = read_accounts(options.accounts)
    detector, summary.restored = _detector(options, accounts)
    position = detector.extra_.get("follow", {})
    offset = int(position.get("offset", 0)) if position.get("path") == str(path) else 0
    line_no = int(position.get("line", 0)) if offset else 0
    sinks = _Alerting(options, append=summary.restored)
    snapshots = _Snapshots(options.state, options.snapshot_seconds)
    stopper = _Stop()
    restore_signals = stopper.install()
    if stop is not None:  # both the caller's event and the signals stop the loop
        stopper.event = stop
    stop_event = stopper.event
    t0 = time.perf_counter()
    try:
        while not stop_event.is_set():
            if not path.exists():
                stop_event.wait(poll_seconds)
                continue
            lines, new_offset = _new_lines(path, offset, 8 << 20)
            if not lines:
                snapshots.maybe(detector)
                stop_event.wait(poll_seconds)
                continue
            rows = []
            for raw in lines:
                line_no += 1
                if not raw.strip():
                    continue  # as in scan: a blank line is no record
                summary.read.rows += 1
                row = convert_item(str(path), line_no, decode_line(raw, str(path), line_no))
                if isinstance(row, BadLine):
                    summary.read.add_bad(row)
                    continue
                summary.read.good += 1
                rows.append(row)
            if rows:
                batch = call_features(to_batch(rows))
                order = pa.compute.sort_indices(batch, [("ts", "ascending"),
                                                        ("request_id", "ascending")])
                sinks.emit(detector.observe_features(batch.take(order)))
                summary.replayed += len(rows)
                if on_replay:
                    on_replay(len(rows))
            offset = new_offset
            detector.extra_["follow"] = {"path": str(path), "offset": offset, "line": line_no}
            snapshots.maybe(detector)
    finally:
        restore_signals()
        detector.extra_["follow"] = {"path": str(path), "offset": offset, "line": line_no}
        snapshots.maybe(detector, force=True)
        sinks.close(summary)
    summary.accounts = detector.n_accounts
    summary.snapshots = snapshots.count
    summary.state_bytes = detector.state_bytes()
    summary.seconds = {"total": time.perf_counter() - t0}
    return summary
