"""The scan pipeline: logs -> store -> profiles -> scores -> findings -> output files.

This is the library form of ``distillwatch scan``; the CLI only parses options and prints.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from distillwatch._workers import parallel_feature_batches
from distillwatch.detect import (
    HARVESTING,
    SUSPICIOUS,
    AccountScorer,
    LinearModel,
    ScoreResult,
    with_silent_accounts,
)
from distillwatch.engine import ENGINES, Tables
from distillwatch.errors import ConfigError, InputError
from distillwatch.features import call_features
from distillwatch.findings import ClusterFinding, build_account_findings, build_cluster_findings
from distillwatch.ingest import (
    ReadStats,
    Store,
    expand_inputs,
    read_accounts,
    read_canonical_batches,
)
from distillwatch.link import candidate_edges, inherit_cluster_risk, link_graph, score_clusters
from distillwatch.profile import account_profiles
from distillwatch.report import write_accounts_csv, write_findings_jsonl, write_report

if TYPE_CHECKING:
    from distillwatch.engine.spark import SparkTables

__all__ = ["ScanOptions", "ScanSummary", "ingest", "link_scores", "scan"]


@dataclass(frozen=True)
class ScanOptions:
    """Everything a scan needs besides its inputs."""

    out: Path
    db: Path = Path("distillwatch.duckdb")
    accounts: str | None = None
    fmt: str = "traffic"
    strict: bool = False
    redact: bool = False
    batch_size: int = 8192
    workers: int = 0  # 0: one per core when the input is large enough to repay starting them
    link: bool = True
    model: LinearModel | None = None
    engine: str = "duckdb"
    spark_master: str | None = None  # default local[*]
    spark_conf: tuple[tuple[str, str], ...] = ()
    spark_store: str | None = None  # Parquet folder of featurised calls kept across runs
    #: State folder of an incremental scan: per-account, per-day partial aggregates; a run
    #: reads only its own logs plus the stored partials (docs/scale.md, "Incremental runs").
    incremental: str | None = None


@dataclass
class ScanSummary:
    """What a scan did, for the closing summary and the report header."""

    read: ReadStats = field(default_factory=ReadStats)
    added: int = 0
    duplicates: int = 0
    calls: int = 0
    accounts: int = 0
    harvesting: int = 0
    suspicious: int = 0
    clusters: int = 0
    clustered_accounts: int = 0
    account_file_bad: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": self.read.files,
            "lines": self.read.rows,
            "good_lines": self.read.good,
            "bad_lines": self.read.bad,
            "bad_by_file": self.read.bad_by_file,
            "bad_examples": [str(b) for b in self.read.bad_examples],
            "added": self.added,
            "duplicates": self.duplicates,
            "calls": self.calls,
            "accounts": self.accounts,
            "harvesting": self.harvesting,
            "suspicious": self.suspicious,
            "clusters": self.clusters,
            "clustered_accounts": self.clustered_accounts,
            "account_file_bad": self.account_file_bad,
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
            "outputs": self.outputs,
        }


Progress = Callable[[int], None]


def ingest(store: Store, inputs: Sequence[str], options: ScanOptions, summary: ScanSummary,
           on_rows: Progress | None = None) -> None:
    """Read inputs and the accounts file into the store (idempotent, incremental)."""
    if options.accounts:
        bad: list[InputError] = []
        store.upsert_accounts(read_accounts(options.accounts, strict=options.strict, bad=bad))
        summary.account_file_bad = [str(b) for b in bad]
    files = expand_inputs(list(inputs))
    try:
        for batch in _feature_batches(files, options, summary.read, on_rows):
            store.stage(batch)
    finally:  # a fatal error (strict mode) keeps everything read before it
        merged = store.merge_staged()
        summary.added += merged.added
        summary.duplicates += merged.duplicates


#: Below this much input, starting worker processes costs more than it saves.
PARALLEL_MIN_BYTES = 8 << 20


def _auto_workers(files: list[str]) -> int:
    """One worker per core for inputs over ``PARALLEL_MIN_BYTES`` (or stdin), else none."""
    size = sum(Path(f).stat().st_size if f != "-" else PARALLEL_MIN_BYTES for f in files)
    return (os.cpu_count() or 1) if size >= PARALLEL_MIN_BYTES else 1


def _feature_batches(files: list[str], options: ScanOptions, stats: ReadStats,
                     on_rows: Progress | None) -> Iterator[pa.RecordBatch]:
    """Per-call feature batches: in worker processes when that is possible and asked for."""
    workers = options.workers or _auto_workers(files)
    if workers > 1 and options.fmt == "traffic" and not options.strict:
        yield from parallel_feature_batches(files, workers=workers, stats=stats,
                                            on_rows=on_rows)
        return
    for batch in read_canonical_batches(files, fmt=options.fmt, batch_size=options.batch_size,
                                        strict=options.strict, stats=stats, on_rows=on_rows):
        yield call_features(batch)


def link_scores(store: Tables, scorer: AccountScorer, scores: ScoreResult,
                partials: str | None = None
                ) -> tuple[ScoreResult, dict[str, str], list[ClusterFinding]]:
    """Link accounts, score each group as one operation, let members inherit its risk.

    Only groups whose own verdict is not ``normal`` are reported (a ``cluster_id`` in
    ``accounts.csv`` and a finding): a company's many keys or a campus behind one address are
    linked too, but they are not an operation to act on. ``partials`` names an incremental
    scan's stored partials (a table-name prefix) to use instead of ``calls``.
    """
    harvesting = [a for a, v in zip(scores.account_ids, scores.verdicts, strict=True)
                  if v == HARVESTING]
    edges, _population = candidate_edges(store, flagged=harvesting, partials=partials)
    linking = link_graph(edges)
    scored = score_clusters(store, linking, scorer, scores, partials=partials)
    if scored is None:
        return scores, {}, []
    cluster_profiles, cluster_scores = scored
    allow = set(store.query_arrow("SELECT account_id FROM accounts WHERE allowlisted")
                .column(0).to_pylist())
    scores = inherit_cluster_risk(scores, cluster_scores, linking.membership, scorer.model_,
                                  allow)
    findings = build_cluster_findings(linking, cluster_profiles, cluster_scores, scores)
    reported = {f.cluster_id for f in findings}
    clusters = {a: c for a, c in linking.membership.items() if c in reported}
    return scores, clusters, findings


def _write_outputs(store: Tables, options: ScanOptions, summary: ScanSummary,
                   profiles: pa.Table, scores: ScoreResult, clusters: dict[str, str],
                   cluster_findings: list[ClusterFinding], partials: str | None,
                   model: LinearModel) -> dict[str, Path]:
    """``accounts.csv``, ``findings.jsonl`` (operations first) and ``report.html``."""
    findings = build_account_findings(store, profiles, scores, redact=options.redact,
                                      clusters=clusters, partials=partials,
                                      harvesting_threshold=model.harvesting_threshold)
    paths = {
        "accounts": options.out / "accounts.csv",
        "findings": options.out / "findings.jsonl",
        "report": options.out / "report.html",
    }
    write_accounts_csv(paths["accounts"], scores, clusters)
    write_findings_jsonl(paths["findings"], [*cluster_findings, *findings])
    first = profiles.column("first_ts").to_pylist()
    last = profiles.column("last_ts").to_pylist()
    header = summary.as_dict()
    header["redacted"] = options.redact
    header["first_seen"] = min(first).strftime("%Y-%m-%d %H:%M") if first else None
    header["last_seen"] = max(last).strftime("%Y-%m-%d %H:%M") if last else None
    write_report(paths["report"], findings, header, clusters=cluster_findings)
    return paths


def scan(inputs: Sequence[str], options: ScanOptions, *, on_rows: Progress | None = None,
         on_stage: Callable[[str], None] | None = None) -> ScanSummary:
    """Run the whole scan and write ``accounts.csv``, ``findings.jsonl`` and ``report.html``."""
    summary = ScanSummary()
    stage = on_stage or (lambda _name: None)
    options.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    stage("ingest")
    if options.incremental and options.spark_store:
        raise ConfigError("--incremental keeps per-account partials, --spark-store whole "
                          "calls: choose one")
    if options.engine == "spark":
        from distillwatch.engine.spark import spark_tables

        if options.fmt != "traffic":  # said before a session starts
            raise ConfigError(f"--format {options.fmt} runs on the DuckDB engine only; "
                              "traffic-log JSONL and Parquet run on Spark")

        with spark_tables(options.spark_master, options.spark_conf) as tables:
            if options.incremental:
                _ingest_spark(tables, inputs, dataclasses.replace(options, accounts=None),
                              summary, on_rows)
                partials = _update_state_spark(tables, options, summary)
            else:
                _ingest_spark(tables, inputs, options, summary, on_rows)
                partials = None
            _analyse(tables, options, summary, stage, t0, partials)
        return summary
    if options.engine != "duckdb":
        raise ConfigError(f"unknown engine {options.engine!r}; choose one of "
                          + ", ".join(ENGINES))
    if options.incremental:
        _scan_incremental_duckdb(inputs, options, summary, stage, t0, on_rows)
        return summary
    with Store(options.db) as store:
        ingest(store, inputs, options, summary, on_rows)
        _analyse(store, options, summary, stage, t0)
    return summary


def _state_accounts(options: ScanOptions, summary: ScanSummary, stored: pa.Table | None
                    ) -> tuple[pa.Table | None, bool]:
    """The accounts an incremental run knows: stored ones updated from ``--accounts``."""
    from distillwatch.engine._state import merge_accounts

    if not options.accounts:
        return stored, False
    bad: list[InputError] = []
    new = read_accounts(options.accounts, strict=options.strict, bad=bad)
    summary.account_file_bad = [str(b) for b in bad]
    return merge_accounts(stored, new), True


def _scan_incremental_duckdb(inputs: Sequence[str], options: ScanOptions,
                             summary: ScanSummary, stage: Callable[[str], None], t0: float,
                             on_rows: Progress | None) -> None:
    """This run's calls in a scratch database; the profile from every stored day's partials."""
    from distillwatch.engine._state import (
        RUN_DB,
        duckdb_load_partials,
        duckdb_save_partials,
        read_state_accounts,
        write_state_accounts,
    )

    state = Path(options.incremental or "")
    state.mkdir(parents=True, exist_ok=True)
    run_db = state / RUN_DB
    for leftover in (run_db, run_db.with_name(RUN_DB + ".wal")):
        leftover.unlink(missing_ok=True)
    try:
        with Store(run_db) as store:
            ingest(store, inputs, dataclasses.replace(options, accounts=None), summary,
                   on_rows)
            accounts, changed = _state_accounts(options, summary, read_state_accounts(state))
            if changed and accounts is not None:
                write_state_accounts(state, accounts)
            if accounts is not None:
                store.upsert_accounts(accounts)
            if store.count_calls():
                duckdb_save_partials(store, state)
            _analyse(store, options, summary, stage, t0, duckdb_load_partials(store, state))
    finally:
        for leftover in (run_db, run_db.with_name(RUN_DB + ".wal")):
            leftover.unlink(missing_ok=True)


def _update_state_spark(tables: SparkTables, options: ScanOptions, summary: ScanSummary
                        ) -> str:
    """Store the run's partials in the state folder; views over all stored days."""
    from distillwatch.engine.spark import (
        spark_load_partials,
        spark_read_state_accounts,
        spark_save_partials,
        spark_write_state_accounts,
    )

    state = options.incremental or ""
    accounts, changed = _state_accounts(options, summary,
                                        spark_read_state_accounts(tables, state))
    if changed and accounts is not None:
        spark_write_state_accounts(tables, state, accounts)
    if accounts is not None:
        tables.register_table("accounts", accounts)
    if tables.count_calls():
        spark_save_partials(tables, state)
    return spark_load_partials(tables, state)


def _ingest_spark(tables: SparkTables, inputs: Sequence[str], options: ScanOptions,
                  summary: ScanSummary, on_rows: Progress | None) -> None:
    """``ingest`` on Spark: the accounts file on the driver, the logs on the executors."""
    from distillwatch.engine.spark import read_calls

    if options.accounts:
        bad: list[InputError] = []
        tables.register_table("accounts", read_accounts(options.accounts, strict=options.strict,
                                                        bad=bad))
        summary.account_file_bad = [str(b) for b in bad]
    merged = read_calls(tables, list(inputs), stats=summary.read, strict=options.strict,
                        store=options.spark_store)
    summary.added += merged.added
    summary.duplicates += merged.duplicates
    if on_rows:
        on_rows(summary.read.good)


def _analyse(store: Tables, options: ScanOptions, summary: ScanSummary,
             stage: Callable[[str], None], t0: float, partials: str | None = None) -> None:
    """Everything after ingest, on whichever engine holds the ``calls`` table.

    With ``partials`` (an incremental scan), on the stored per-day partials instead.
    """
    t1 = time.perf_counter()
    if partials is None:
        summary.calls = store.count_calls()
    else:
        total = store.query_arrow(f"SELECT CAST(SUM(n_calls) AS BIGINT) FROM {partials}base")
        summary.calls = int(total.column(0)[0].as_py() or 0)
    if summary.calls == 0:
        raise InputError("no usable call in the inputs"
                         + (f" ({summary.read.bad} bad lines)" if summary.read.bad else ""),
                         path=", ".join(summary.read.files) or None)
    stage("profile")
    profiles = account_profiles(store, partials=partials)
    t2 = time.perf_counter()
    stage("score")
    scorer = AccountScorer(options.model).fit(profiles)
    scores = scorer.score(profiles)
    t3 = time.perf_counter()
    clusters: dict[str, str] = {}
    cluster_findings: list[ClusterFinding] = []
    if options.link:
        stage("link")
        scores, clusters, cluster_findings = link_scores(store, scorer, scores, partials)
        summary.clusters = len(cluster_findings)
        summary.clustered_accounts = len(clusters)
    known = store.query_arrow("SELECT account_id FROM accounts").column(0).to_pylist()
    scores = with_silent_accounts(scores, known)
    t4 = time.perf_counter()
    stage("report")
    summary.accounts = len(scores.account_ids)
    summary.harvesting = sum(v == HARVESTING for v in scores.verdicts)
    summary.suspicious = sum(v == SUSPICIOUS for v in scores.verdicts)
    paths = _write_outputs(store, options, summary, profiles, scores, clusters,
                           cluster_findings, partials, scorer.model_)
    summary.outputs = {k: str(v) for k, v in paths.items()}
    t5 = time.perf_counter()
    summary.seconds = {"ingest": t1 - t0, "profile": t2 - t1, "score": t3 - t2,
                       "link": t4 - t3, "report": t5 - t4, "total": t5 - t0}
