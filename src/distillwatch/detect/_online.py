"""The online detector: per-account state updated call by call, scored with scan's model.

State per account is a fixed row of counters (calls, tokens, the shares scan profiles), 24
hourly counts, running gap moments and the top template and system-prompt counts: O(1) memory
and O(1) work per call. Distinct prompts, networks, agents and keys, repeated prompts and
cross-model repeats are tested against one shared Bloom filter of (account, value) pairs, and
template and system-prompt counts come from one count-min sketch, both of fixed size.

Scoring uses the same indicators, model and reason codes as ``scan`` (docs/detection.md lists
what differs online: topic indicators are held at the population's reference, shares start at
the population median and move with evidence, and log indicators are compared with baselines
refitted on the live population as it grows).

Each batch is scored then learned in one pass of numpy: a row's values use only rows before it
(in time order) and earlier batches, which is what makes an alert honest about the call it was
raised at.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from distillwatch.act import ACTIONS, DEFAULT_LADDER, Ladder, action_rank
from distillwatch.detect._indicators import (
    INDICATORS,
    fit_baselines,
    indicator_matrix,
    raw_from_columns,
)
from distillwatch.detect._live import Alert, LiveRisk
from distillwatch.detect._model import LinearModel, load_default_model
from distillwatch.detect._sketch import (
    BloomFilter,
    CountMin,
    Groups,
    first_in_batch,
    occurrence_index,
    pair_keys,
)
from distillwatch.errors import InputError
from distillwatch.features._hashing import stable_hash

__all__ = ["FEATURE_COLUMNS", "OnlineConfig", "OnlineDetector"]

# Counter columns of the per-account state (sums over the account's calls).
_COUNTERS = (
    "n", "end_user", "prompt_tokens", "completion_tokens", "reasoning", "cot", "effort_high",
    "top_logprobs_high", "logit_bias", "tiny_max", "high_max", "multi_sample", "temp_zero",
    "tools", "harvest_like", "single_turn", "rate_limited", "non_latin", "distinct_prompts",
    "repeated_prompts", "cross_model", "distinct_networks", "distinct_agents", "distinct_keys",
    "side_mode", "gap_n", "gap_sum", "gap_sumsq",
)
_C = {name: i for i, name in enumerate(_COUNTERS)}

# Shares that are per-call averages: shrunk toward the population while evidence is thin.
_CALL_SHARES = (
    "COT_ELICITATION", "REASONING_EFFORT", "REASONING_TOKENS", "TOP_LOGPROBS", "LOGIT_BIAS",
    "TINY_MAX_TOKENS", "HIGH_MAX_TOKENS", "MULTI_SAMPLE", "HARVEST_STYLE_SHARE", "SIDE_MODE",
    "SINGLE_TURN", "END_USERS", "TOOLS", "TEMPERATURE_ZERO", "RATE_LIMITED", "MULTILINGUAL",
    "DISTINCT_PROMPTS", "TEMPLATE_SHARE", "REPEATED_PROMPTS", "CROSS_MODEL_REPEATS",
    "REGULAR_TIMING", "ROUND_THE_CLOCK",
)
# Indicators the online detector cannot compute call by call (they need the prompt texts of
# the whole window): held at the population's reference so they add nothing either way.
_OFFLINE_ONLY = ("TOPIC_BREADTH", "TOPIC_SPREAD", "TEMPLATE_SWEEP")
_IDX = {ind.code: j for j, ind in enumerate(INDICATORS)}

_SIDE_MODE_TOKENS = 800  # as profile/_sql.py SIDE_MODE_TOKENS
_HIGH_MAX_TOKENS = 4000  # as profile/_sql.py HIGH_MAX_TOKENS

# Salts that keep the kinds of (account, value) pairs apart in the shared sketches.
_S_PROMPT, _S_REPEAT, _S_MODEL, _S_CROSS = 1, 2, 3, 4
_S_NET, _S_AGENT, _S_KEY, _S_PREFIX, _S_SUFFIX, _S_SYSTEM = 5, 6, 7, 8, 9, 10

#: The per-call feature columns the detector reads (a subset of ``CALL_FEATURES_SCHEMA``).
FEATURE_COLUMNS = (
    "request_id", "account_id", "ts", "key_id", "end_user", "user_agent", "status", "model",
    "n_assistant_turns", "n_tool_messages", "n_tools", "temperature", "n", "max_tokens",
    "top_logprobs", "logit_bias_size", "reasoning_effort", "prompt_tokens",
    "completion_tokens", "reasoning_tokens", "history_chars", "prompt_hash", "system_hash",
    "template_prefix", "template_suffix", "cot", "script", "ip_prefix",
)


@dataclass(frozen=True)
class OnlineConfig:
    """Parameters of the online detector (all of them; learned state lives in the detector).

    ``prior_calls`` is how many calls' worth of weight the population's median share carries
    in a young account's shares; ``min_calls`` is the fewest calls an account must make before
    it can be alerted on; ``hysteresis`` is how far below a step's threshold risk must fall
    before that step can be alerted again; ``min_population`` is how many accounts with
    ``min_calls`` the live baselines need before they replace the shipped defaults.
    """

    ladder: Ladder = DEFAULT_LADDER
    prior_calls: float = 20.0
    min_calls: int = 10
    hysteresis: float = 0.05
    refresh_calls: int = 50_000
    min_population: int = 100
    bloom_bits_log2: int = 30
    countmin_width_log2: int = 22
    max_reasons: int = 4


@dataclass
class _Accounts:
    """Static facts per account from the accounts file."""

    created_us: dict[str, int] = field(default_factory=dict)
    allowlisted: set[str] = field(default_factory=set)

    @classmethod
    def from_table(cls, table: pa.Table | None) -> _Accounts:
        out = cls()
        if table is None:
            return out
        for row in table.select(["account_id", "created_at", "allowlisted"]).to_pylist():
            if row["created_at"] is not None:
                out.created_us[row["account_id"]] = int(row["created_at"].timestamp() * 1e6)
            if row["allowlisted"]:
                out.allowlisted.add(row["account_id"])
        return out


def _defaults() -> dict[str, Any]:
    text = resources.files("distillwatch.detect").joinpath("online_defaults.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


def _iso(us: int) -> str:
    return datetime.fromtimestamp(us / 1e6, tz=UTC).isoformat().replace("+00:00", "Z")


class OnlineDetector:
    """Scores calls as they come and keeps bounded state per account (a ``LiveScorer``)."""

    def __init__(self, accounts: str | Path | pa.Table | None = None, *,
                 config: OnlineConfig | None = None, model: LinearModel | None = None) -> None:
        self.config = config or OnlineConfig()
        if isinstance(accounts, str | Path):
            from distillwatch.ingest import read_accounts

            accounts = read_accounts(str(accounts))
        self.model_ = model or load_default_model()
        self._weights = self.model_.vector()
        self._info = _Accounts.from_table(accounts)
        self._ids: list[str] = []
        self._slot: dict[str, int] = {}
        cap = 1024
        self.counters_ = np.zeros((cap, len(_COUNTERS)), dtype=np.float64)
        self.hours_ = np.zeros((cap, 24), dtype=np.int32)
        self.top_template_ = np.zeros(cap, dtype=np.float64)
        self.top_system_ = np.zeros(cap, dtype=np.float64)
        self.last_ts_ = np.full(cap, np.iinfo(np.int64).min, dtype=np.int64)
        self.age_days_ = np.full(cap, np.nan, dtype=np.float64)
        self.allowlisted_ = np.zeros(cap, dtype=bool)
        self.risk_ = np.zeros(cap, dtype=np.float64)
        self.level_ = np.zeros(cap, dtype=np.int8)  # ladder rank last alerted (hysteresis)
        self.cluster_risk_ = np.full(cap, np.nan, dtype=np.float64)
        self.cluster_of_: dict[int, str] = {}
        self.bloom_ = BloomFilter(self.config.bloom_bits_log2)
        self.countmin_ = CountMin(self.config.countmin_width_log2)
        defaults = _defaults()
        self.baselines_: dict[str, tuple[float, float]] = {
            k: (float(v[0]), float(v[1])) for k, v in defaults["baselines"].items()}
        self.medians_: dict[str, float] = {k: float(v) for k, v in defaults["medians"].items()}
        self.baseline_source_ = "defaults"
        self._reference = self.reference_vector()
        self.calls_ = 0
        self._since_refresh = 0
        self.last_key_: tuple[int, str] = (np.iinfo(np.int64).min, "")
        self._live: dict[str, LiveRisk] = {}
        self._string_hashes: dict[str, int] = {}
        #: small JSON-able facts a caller keeps with the state (e.g. a followed file's offset)
        self.extra_: dict[str, Any] = {}
        self.rejected_ = 0
        self.last_rejection_: str | None = None

    # ----------------------------------------------------------------- accounts and state
    @property
    def n_accounts(self) -> int:
        return len(self._ids)

    def _grow(self, need: int) -> None:
        cap = len(self.risk_)
        if need <= cap:
            return
        new = max(need, 2 * cap)
        for name in _ARRAYS:
            old = getattr(self, name)
            fill: Any = 0
            if name == "last_ts_":
                fill = np.iinfo(np.int64).min
            elif name in ("age_days_", "cluster_risk_"):
                fill = np.nan
            grown = np.full((new, *old.shape[1:]), fill, dtype=old.dtype)
            grown[:cap] = old
            setattr(self, name, grown)

    def _slots(self, accounts: pa.Array | pa.ChunkedArray, ts: np.ndarray) -> np.ndarray:
        encoded = pc.dictionary_encode(accounts)
        if isinstance(encoded, pa.ChunkedArray):
            encoded = encoded.combine_chunks()
        names = encoded.dictionary.to_pylist()
        indices = encoded.indices.to_numpy(zero_copy_only=False)
        slots = np.empty(len(names), dtype=np.int64)
        fresh: list[tuple[int, str]] = []
        next_slot = len(self._ids)
        for i, name in enumerate(names):
            slot = self._slot.get(name)
            if slot is None:
                slot = next_slot
                next_slot += 1
                fresh.append((slot, name))
            slots[i] = slot
        if fresh:
            # grow before publishing the new slots: a reader on another thread (the
            # gateway's risk_of) must never find a slot its arrays do not have yet
            self._grow(next_slot)
            for slot, name in fresh:
                self.allowlisted_[slot] = name in self._info.allowlisted
                self._ids.append(name)
                self._slot[name] = slot
        per_row = slots[indices]
        if fresh:
            seen_slots, first_row = np.unique(per_row, return_index=True)
            first_rows = dict(zip(seen_slots.tolist(), first_row.tolist(), strict=True))
            for slot, name in fresh:
                first = int(ts[first_rows[slot]])
                created = self._info.created_us.get(name)
                if created is not None:
                    self.age_days_[slot] = (first - created) / 86_400e6
        return per_row

    def _hash_strings(self, column: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, np.ndarray]:
        """Stable int64 hashes of a string column (and which rows are non-empty)."""
        encoded = pc.dictionary_encode(column)
        if isinstance(encoded, pa.ChunkedArray):
            encoded = encoded.combine_chunks()
        cache = self._string_hashes
        values = []
        for text in encoded.dictionary.to_pylist():
            h = cache.get(text)
            if h is None:
                h = stable_hash(text) if text else 0
                if len(cache) < 1_000_000:
                    cache[text] = h
            values.append(h)
        table = np.asarray(values, dtype=np.int64) if values else np.zeros(1, dtype=np.int64)
        idx = encoded.indices
        if idx.null_count == 0:
            valid = np.ones(len(idx), dtype=bool)
            idx_np = idx.to_numpy(zero_copy_only=False)
        else:
            valid = np.asarray(idx.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
            idx_np = idx.fill_null(0).to_numpy(zero_copy_only=False)
        hashes = table[idx_np] if len(values) else np.zeros(len(idx_np), dtype=np.int64)
        valid &= hashes != 0
        return hashes, valid

    # ----------------------------------------------------------------------- observing
    def observe(self, records: Sequence[Mapping[str, Any]], *, strict: bool = False
                ) -> list[Alert]:
        """Score then learn traffic-log v1 records (dicts); the gateway's entry point.

        Records are validated exactly as ``scan`` validates lines. An invalid record is
        counted in ``rejected_`` (its reason kept in ``last_rejection_``) and skipped, so one
        bad record never costs the rest of a micro-batch; ``strict`` raises instead. Records
        are put in time order within the batch (concurrent calls finish out of order).
        """
        if not records:
            return []
        from distillwatch.features import call_features
        from distillwatch.ingest._reader import BadLine, convert_item, to_batch

        rows = []
        for i, record in enumerate(records):
            row = convert_item("<live>", i + 1, dict(record))
            if isinstance(row, BadLine):
                if strict:
                    raise InputError(row.message, path="<live>", line=row.line,
                                     field=row.field)
                self.rejected_ += 1
                self.last_rejection_ = str(row)
                continue
            rows.append(row)
        if not rows:
            return []
        batch = call_features(to_batch(rows), FEATURE_COLUMNS)
        order = pc.sort_indices(batch, [("ts", "ascending"), ("request_id", "ascending")])
        return self.observe_features(batch.take(order))

    def observe_features(self, batch: pa.RecordBatch | pa.Table) -> list[Alert]:
        """Score then learn a batch of per-call features (``call_features`` output, or at least
        ``FEATURE_COLUMNS``), whose rows are in time order."""
        n_rows = batch.num_rows
        if n_rows == 0:
            return []
        col = batch.column
        ts = pc.cast(col("ts"), pa.int64()).to_numpy(zero_copy_only=False)
        slot = self._slots(col("account_id"), ts)
        g = Groups(slot)
        v, top_template, top_system = self._increments(batch, slot, ts, g)
        counters = g.cumsum(v) + self.counters_[slot]
        hours = self._hours(ts, slot, g)
        top_template = np.maximum(g.cummax(top_template), self.top_template_[slot])
        top_system = np.maximum(g.cummax(top_system), self.top_system_[slot])

        x = self._matrix(counters, hours, top_template, slot)
        risk = self.model_.predict(x)
        # as in scan: a ring member inherits the ring's risk only once it is suspicious itself
        cluster = self.cluster_risk_[slot]
        inherit = ~np.isnan(cluster) & (risk >= self.model_.suspicious_threshold)
        risk = np.where(inherit, np.maximum(risk, np.nan_to_num(cluster)), risk)

        alerts = self._alerts(batch, slot, ts, risk, counters, x)

        last = g.last_row
        slots_last = slot[last]
        self.counters_[slots_last] = counters[last]
        self.hours_[slots_last] = hours[last]
        self.top_template_[slots_last] = top_template[last]
        self.top_system_[slots_last] = top_system[last]
        self.last_ts_[slots_last] = ts[last]
        self.risk_[slots_last] = risk[last]
        for s in slots_last:
            self._live.pop(self._ids[s], None)
        self.calls_ += n_rows
        self.last_key_ = (int(ts[-1]), str(col("request_id")[n_rows - 1]))
        self._since_refresh += n_rows
        if self._since_refresh >= self.config.refresh_calls:
            self.refresh_baselines()
        return alerts

    def _increments(self, batch: pa.RecordBatch | pa.Table, slot: np.ndarray, ts: np.ndarray,
                    g: Groups) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-row additions to the counters, and each row's template and system counts."""
        col = batch.column
        n_rows = batch.num_rows

        # a column without nulls converts straight to numpy (one call instead of three:
        # these calls, not the rows, are most of a small batch's cost)
        def num(name: str, fill: float = 0.0) -> np.ndarray:
            column = col(name)
            if column.null_count == 0:
                return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)
            return np.asarray(pc.fill_null(pc.cast(column, pa.float64()), fill)
                              .to_numpy(zero_copy_only=False), dtype=np.float64)

        def flag(name: str) -> np.ndarray:
            column = col(name)
            if column.null_count == 0:
                return np.asarray(column.to_numpy(zero_copy_only=False), dtype=bool)
            return np.asarray(pc.fill_null(column, False).to_numpy(zero_copy_only=False),
                              dtype=bool)

        def valid(name: str) -> np.ndarray:
            column = col(name)
            if column.null_count == 0:
                return np.ones(len(column), dtype=bool)
            return np.asarray(pc.is_valid(column).to_numpy(zero_copy_only=False), dtype=bool)

        def ints(name: str) -> np.ndarray:
            column = col(name)
            if column.null_count == 0:
                return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.int64)
            return np.asarray(pc.fill_null(column, 0).to_numpy(zero_copy_only=False),
                              dtype=np.int64)

        v = np.zeros((n_rows, len(_COUNTERS)), dtype=np.float64)
        max_tokens = num("max_tokens", np.nan)
        top_lp = num("top_logprobs")
        bias = num("logit_bias_size")
        n_choices = num("n", 1.0)
        effort_high = np.asarray(pc.fill_null(pc.equal(col("reasoning_effort"), "high"), False)
                                 .to_numpy(zero_copy_only=False), dtype=bool)
        cot = flag("cot")
        completion = num("completion_tokens")
        script = col("script")
        status = num("status")
        v[:, _C["n"]] = 1.0
        v[:, _C["end_user"]] = valid("end_user")
        v[:, _C["prompt_tokens"]] = num("prompt_tokens")
        v[:, _C["completion_tokens"]] = completion
        v[:, _C["reasoning"]] = num("reasoning_tokens") > 0
        v[:, _C["cot"]] = cot
        v[:, _C["effort_high"]] = effort_high
        v[:, _C["top_logprobs_high"]] = top_lp >= 10
        v[:, _C["logit_bias"]] = bias > 0
        v[:, _C["tiny_max"]] = max_tokens <= 5
        v[:, _C["high_max"]] = max_tokens >= _HIGH_MAX_TOKENS
        v[:, _C["multi_sample"]] = n_choices > 1
        v[:, _C["temp_zero"]] = num("temperature", np.nan) == 0
        v[:, _C["tools"]] = (num("n_tools") > 0) | (num("n_tool_messages") > 0)
        v[:, _C["harvest_like"]] = (
            (cot & (np.isnan(max_tokens) | (max_tokens >= 1000))) | (top_lp >= 5) | (bias > 0)
            | (n_choices > 1) | effort_high)
        v[:, _C["single_turn"]] = (num("n_assistant_turns") == 0) & (num("history_chars") == 0)
        v[:, _C["rate_limited"]] = status == 429
        v[:, _C["non_latin"]] = np.asarray(
            pc.fill_null(pc.and_(pc.is_valid(script), pc.not_equal(script, "latin")), False)
            .to_numpy(zero_copy_only=False), dtype=bool)

        # distinct prompts, repeats and cross-model repeats
        prompt = ints("prompt_hash")
        has_prompt = valid("prompt_hash")
        model_hash, _ = self._hash_strings(col("model"))
        key_p = pair_keys(slot, prompt, _S_PROMPT)
        seen = self.bloom_.contains(key_p)
        first = first_in_batch(key_p, has_prompt)
        v[:, _C["distinct_prompts"]] = has_prompt & ~seen & first
        seen_before = has_prompt & (seen | ~first)
        v[:, _C["repeated_prompts"]] = self._new_pairs(pair_keys(key_p.view(np.int64),
                                                                 np.zeros(n_rows), _S_REPEAT),
                                                       seen_before)
        key_m = pair_keys(key_p.view(np.int64), model_hash, _S_MODEL)
        new_model = has_prompt & ~self.bloom_.contains(key_m) & first_in_batch(key_m, has_prompt)
        v[:, _C["cross_model"]] = self._new_pairs(
            pair_keys(key_p.view(np.int64), np.zeros(n_rows), _S_CROSS), new_model & seen_before)
        self.bloom_.add(key_p[has_prompt])
        self.bloom_.add(key_m[has_prompt])

        # distinct networks, agents and keys
        for name, column, salt in (("distinct_networks", "ip_prefix", _S_NET),
                                   ("distinct_agents", "user_agent", _S_AGENT),
                                   ("distinct_keys", "key_id", _S_KEY)):
            hashes, ok = self._hash_strings(col(column))
            v[:, _C[name]] = self._new_pairs(pair_keys(slot, hashes, salt), ok)

        # template and system-prompt counts (count-min), side mode
        top_template = np.zeros(n_rows)
        for column, salt in (("template_prefix", _S_PREFIX), ("template_suffix", _S_SUFFIX)):
            top_template = np.maximum(top_template, self._counts(slot, col, column, salt))
        system_count = self._counts(slot, col, "system_hash", _S_SYSTEM)
        has_system = system_count > 0
        top_system = np.maximum(g.cummax(system_count), self.top_system_[slot])
        v[:, _C["side_mode"]] = (completion >= _SIDE_MODE_TOKENS) & (
            (~has_system & (top_system > 0)) | (has_system & (system_count < top_system)))

        # inter-arrival gaps
        prev = g.previous(ts, self.last_ts_[slot])
        has_gap = prev != np.iinfo(np.int64).min
        # a followed log can be slightly out of order across reads: never a negative gap
        gap = np.where(has_gap, np.maximum(ts - np.where(has_gap, prev, ts), 0) / 1e6, 0.0)
        v[:, _C["gap_n"]] = has_gap
        v[:, _C["gap_sum"]] = gap
        v[:, _C["gap_sumsq"]] = gap * gap
        return v, top_template, system_count

    def _new_pairs(self, keys: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Rows where ``mask`` holds and the key is new (not in the filter, first in batch)."""
        new = mask & ~self.bloom_.contains(keys) & first_in_batch(keys, mask)
        self.bloom_.add(keys[new])
        return new

    def _counts(self, slot: np.ndarray, col: Any, column: str, salt: int) -> np.ndarray:
        """Per row, how many of the account's calls so far carried this row's value (0: none)."""
        data = col(column)
        out = np.zeros(len(slot))
        if data.null_count == 0:
            ok = np.ones(len(slot), dtype=bool)
            values = np.asarray(data.to_numpy(zero_copy_only=False), dtype=np.int64)
        else:
            ok = np.asarray(pc.is_valid(data).to_numpy(zero_copy_only=False), dtype=bool)
            if not ok.any():
                return out
            values = np.asarray(pc.fill_null(data, 0).to_numpy(zero_copy_only=False),
                                dtype=np.int64)
        keys = pair_keys(slot[ok], values[ok], salt)
        out[ok] = self.countmin_.estimate(keys) + occurrence_index(keys) + 1
        self.countmin_.add(keys)
        return out

    def _hours(self, ts: np.ndarray, slot: np.ndarray, g: Groups) -> np.ndarray:
        hour = (ts // 3_600_000_000) % 24
        onehot = np.zeros((len(ts), 24), dtype=np.int32)
        onehot[np.arange(len(ts)), hour] = 1
        out: np.ndarray = g.cumsum(onehot) + self.hours_[slot]
        return out

    # ------------------------------------------------------------------------- scoring
    def _profile_columns(self, counters: np.ndarray, hours: np.ndarray,
                         top_template: np.ndarray, slot: np.ndarray) -> dict[str, np.ndarray]:
        """The scan profile's columns, from state rows (one per call or per account)."""
        c = {name: counters[:, i] for name, i in _C.items()}
        n = np.maximum(c["n"], 1.0)
        distinct = np.maximum(c["distinct_prompts"], 1.0)
        gap_n = c["gap_n"]
        mean = c["gap_sum"] / np.maximum(gap_n, 1.0)
        var = np.maximum(c["gap_sumsq"] / np.maximum(gap_n, 1.0) - mean * mean, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            gap_cv = np.where((gap_n > 0) & (mean > 0), np.sqrt(var) / mean, np.nan)
            p = hours / n[:, None]
            entropy = -np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0), axis=1)
            out_in = np.where(c["prompt_tokens"] > 0, c["completion_tokens"] / c["prompt_tokens"],
                              np.nan)
        return {
            "n_calls": c["n"],
            "distinct_ip_prefixes": c["distinct_networks"],
            "gap_cv": gap_cv,
            "account_age_days": self.age_days_[slot],
            "hour_entropy": entropy,
            "topic_spread": np.full(len(n), np.nan),
            "top_template_share": top_template / n,
            "end_user_share": c["end_user"] / n,
            "completion_tokens": c["completion_tokens"],
            "out_in_ratio": out_in,
            "mean_completion_tokens": c["completion_tokens"] / n,
            "distinct_prompt_rate": c["distinct_prompts"] / n,
            "single_turn_share": c["single_turn"] / n,
            "cot_share": c["cot"] / n,
            "effort_high_share": c["effort_high"] / n,
            "reasoning_share": c["reasoning"] / n,
            "top_logprobs_high_share": c["top_logprobs_high"] / n,
            "logit_bias_share": c["logit_bias"] / n,
            "tiny_max_tokens_share": c["tiny_max"] / n,
            "high_max_tokens_share": c["high_max"] / n,
            "multi_sample_share": c["multi_sample"] / n,
            "harvest_like_share": c["harvest_like"] / n,
            "harvest_like_calls": c["harvest_like"],
            "side_mode_share": c["side_mode"] / n,
            "side_mode_calls": c["side_mode"],
            "topic_entropy": np.full(len(n), np.nan),
            "cross_model_repeat_share": c["cross_model"] / distinct,
            "repeated_prompt_share": c["repeated_prompts"] / distinct,
            "tools_share": c["tools"] / n,
            "temp_zero_share": c["temp_zero"] / n,
            "rate_limited_share": c["rate_limited"] / n,
            "distinct_user_agents": c["distinct_agents"],
            "distinct_keys": c["distinct_keys"],
            "non_latin_share": c["non_latin"] / n,
            "allowlisted": self.allowlisted_[slot].astype(np.float64),
        }

    def _raw(self, counters: np.ndarray, hours: np.ndarray, top_template: np.ndarray,
             slot: np.ndarray) -> dict[str, np.ndarray]:
        cols = self._profile_columns(counters, hours, top_template, slot)
        return raw_from_columns(lambda name: cols[name])

    def _matrix(self, counters: np.ndarray, hours: np.ndarray, top_template: np.ndarray,
                slot: np.ndarray) -> np.ndarray:
        """The scaled indicator matrix per row, with young accounts' shares shrunk."""
        raw = self._raw(counters, hours, top_template, slot)
        n = counters[:, _C["n"]]
        weight = n / (n + self.config.prior_calls)
        for code in _CALL_SHARES:
            prior = self.medians_.get(code, 0.0)
            values = raw[code]
            raw[code] = np.where(np.isnan(values), prior, weight * values + (1 - weight) * prior)
        for code in _OFFLINE_ONLY:
            raw[code] = np.full(len(n), self.medians_.get(code, 0.0))
        return indicator_matrix(raw, self.baselines_)

    def reference_vector(self) -> np.ndarray:
        """Scaled indicators of a median account: reasons are contributions against it."""
        raw = {ind.code: np.array([self.medians_.get(ind.code, 0.0)]) for ind in INDICATORS}
        return indicator_matrix(raw, self.baselines_)[0]

    def refresh_baselines(self) -> None:
        """Refit log-indicator baselines and median shares on the live population."""
        self._since_refresh = 0
        n = self.counters_[: self.n_accounts, _C["n"]]
        active = np.flatnonzero(n >= self.config.min_calls)
        if len(active) < self.config.min_population:
            return
        raw = self._raw(self.counters_[active], self.hours_[active], self.top_template_[active],
                        active)
        self.baselines_ = fit_baselines(raw)
        self.medians_ = {k: float(np.nanmedian(v)) if np.isfinite(v).any() else 0.0
                         for k, v in raw.items()}
        self.baseline_source_ = f"live population of {len(active)} accounts"
        self._reference = self.reference_vector()

    def _reasons(self, x_row: np.ndarray) -> tuple[str, ...]:
        contrib = (x_row - self._reference) * self._weights
        order = np.argsort(-contrib, kind="stable")
        out = []
        for j in order[: self.config.max_reasons]:
            if contrib[j] <= 0.05:
                break
            out.append(INDICATORS[j].code)
        return tuple(out)

    # -------------------------------------------------------------------------- alerts
    def _alerts(self, batch: pa.RecordBatch | pa.Table, slot: np.ndarray, ts: np.ndarray,
                risk: np.ndarray, counters: np.ndarray, x: np.ndarray) -> list[Alert]:
        """Walk the rows that can change an account's alert level, in order (hysteresis)."""
        ladder = self.config.ladder
        steps = [(action_rank(a), t) for a, t in sorted(ladder.thresholds.items(),
                                                        key=lambda kv: action_rank(kv[0]))]
        if not steps:
            return []
        lowest = min(t for _, t in steps)
        n_calls = counters[:, _C["n"]]
        # every row of an account that is or may become alerted: whether a row changes the
        # level depends on the rows before it, whichever batch they came in
        near = (risk >= lowest - self.config.hysteresis) & (n_calls >= self.config.min_calls)
        involved = np.union1d(slot[near], slot[self.level_[slot] > 0])
        candidate = np.isin(slot, involved) & (n_calls >= self.config.min_calls)
        rows = np.flatnonzero(candidate)
        if not len(rows):
            return []
        cap = action_rank(ladder.allowlisted_max)
        thresholds = {rank: t for rank, t in steps}
        alerts = []
        request_ids = batch.column("request_id")
        for row in rows:
            s = int(slot[row])
            r = float(risk[row])
            rank = 0
            for step_rank, t in steps:
                if r >= t:
                    rank = step_rank
            if self.allowlisted_[s]:
                rank = min(rank, cap)
            level = int(self.level_[s])
            if rank > level:
                self.level_[s] = rank
                account = self._ids[s]
                alerts.append(Alert(
                    ts=_iso(int(ts[row])), account_id=account,
                    request_id=str(request_ids[int(row)]), risk=r,
                    action=ACTIONS[rank], reasons=self._reasons(x[row]),
                    calls=int(n_calls[row]),
                    output_tokens=int(counters[row, _C["completion_tokens"]]),
                    cluster_id=self.cluster_of_.get(s)))
            elif level > 0 and r < thresholds.get(level, 0.0) - self.config.hysteresis:
                self.level_[s] = rank  # fell clearly below: re-arm the lower steps
        return alerts

    # ------------------------------------------------------------------------- queries
    def risk_of(self, account_id: str) -> LiveRisk | None:
        live = self._live.get(account_id)
        if live is not None:
            return live
        s = self._slot.get(account_id)
        if s is None:
            return None
        x = self._matrix(self.counters_[s:s + 1], self.hours_[s:s + 1],
                         self.top_template_[s:s + 1], np.array([s]))
        live = LiveRisk(account_id=account_id, risk=float(self.risk_[s]),
                        reasons=self._reasons(x[0]), calls=int(self.counters_[s, 0]),
                        allowlisted=bool(self.allowlisted_[s]),
                        cluster_id=self.cluster_of_.get(s))
        self._live[account_id] = live
        return live

    def risks_of(self, account_ids: Sequence[str]) -> list[LiveRisk | None]:
        """``risk_of`` for many accounts at once: one numpy pass for those not cached."""
        out = [self._live.get(a) for a in account_ids]
        todo = [i for i, live in enumerate(out)
                if live is None and account_ids[i] in self._slot]
        if not todo:
            return out
        slots = np.array([self._slot[account_ids[i]] for i in todo], dtype=np.int64)
        x = self._matrix(self.counters_[slots], self.hours_[slots], self.top_template_[slots],
                         slots)
        for k, i in enumerate(todo):
            s = int(slots[k])
            live = LiveRisk(account_id=account_ids[i], risk=float(self.risk_[s]),
                            reasons=self._reasons(x[k]), calls=int(self.counters_[s, 0]),
                            allowlisted=bool(self.allowlisted_[s]),
                            cluster_id=self.cluster_of_.get(s))
            self._live[account_ids[i]] = live
            out[i] = live
        return out

    def accounts(self) -> list[str]:
        return list(self._ids)

    def state_bytes(self) -> dict[str, int]:
        """Memory held: per-account arrays (and per account), and the shared sketches."""
        per_account = sum(getattr(self, name).nbytes for name in _ARRAYS)
        slots = len(self.risk_)
        return {
            "accounts": self.n_accounts,
            "account_arrays": per_account,
            "bytes_per_account_slot": per_account // max(slots, 1),
            "bloom": self.bloom_.nbytes,
            "countmin": self.countmin_.nbytes,
        }

    # ------------------------------------------------------------------------ linking
    def set_clusters(self, members: Mapping[str, str], cluster_risk: Mapping[str, float]
                     ) -> None:
        """Ring membership from the link stage: members then score at least the ring's risk."""
        self.cluster_risk_[:] = np.nan
        self.cluster_of_ = {}
        for account, cluster in members.items():
            s = self._slot.get(account)
            if s is None or cluster not in cluster_risk:
                continue
            self.cluster_of_[s] = cluster
            self.cluster_risk_[s] = cluster_risk[cluster]
            self._live.pop(account, None)

    # ----------------------------------------------------------------------- snapshots
    def save(self, path: str | Path) -> None:
        """Write the whole state atomically (a crash mid-write keeps the previous snapshot)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        k = self.n_accounts
        meta = {
            "format": "distillwatch.online/1",
            "config": _config_json(self.config),
            "model": json.loads(self.model_.to_json()),
            "ids": self._ids,
            "allowlisted": sorted(self._info.allowlisted),
            "created_us": self._info.created_us,
            "baselines": {k2: list(v) for k2, v in self.baselines_.items()},
            "medians": self.medians_,
            "baseline_source": self.baseline_source_,
            "calls": self.calls_,
            "since_refresh": self._since_refresh,
            "last_key": list(self.last_key_),
            "bloom_added": self.bloom_.added,
            "clusters": {str(s): c for s, c in self.cluster_of_.items()},
            "extra": self.extra_,
        }
        arrays = {name: getattr(self, name)[:k] for name in _ARRAYS}
        arrays["bloom"] = self.bloom_.bits
        arrays["countmin"] = self.countmin_.table
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                # uncompressed: a snapshot must not stall scoring (sketches are 160 MiB)
                np.savez(fh, meta=np.frombuffer(json.dumps(meta).encode(), np.uint8),
                                    **arrays)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: str | Path) -> OnlineDetector:
        """Restore a detector saved with ``save``."""
        path = Path(path)
        try:
            data = np.load(path, allow_pickle=False)
            meta = json.loads(bytes(data["meta"]).decode())
        except (OSError, ValueError, KeyError) as exc:
            raise InputError(f"not a distillwatch state snapshot: {exc}", path=str(path)) from exc
        if meta.get("format") != "distillwatch.online/1":
            raise InputError(f"unknown snapshot format {meta.get('format')!r}", path=str(path))
        config = _config_from_json(meta["config"])
        detector = cls(config=config, model=LinearModel.from_json(json.dumps(meta["model"])))
        detector._info = _Accounts(created_us={k: int(v) for k, v in meta["created_us"].items()},
                                   allowlisted=set(meta["allowlisted"]))
        detector._ids = list(meta["ids"])
        detector._slot = {a: i for i, a in enumerate(detector._ids)}
        detector._grow(len(detector._ids))
        for name in _ARRAYS:
            getattr(detector, name)[: len(detector._ids)] = data[name]
        detector.bloom_.bits[:] = data["bloom"]
        detector.bloom_.added = int(meta["bloom_added"])
        detector.countmin_.table[:] = data["countmin"]
        detector.baselines_ = {k: (float(v[0]), float(v[1])) for k, v in meta["baselines"].items()}
        detector.medians_ = {k: float(v) for k, v in meta["medians"].items()}
        detector.baseline_source_ = meta["baseline_source"]
        detector._reference = detector.reference_vector()
        detector.calls_ = int(meta["calls"])
        detector._since_refresh = int(meta["since_refresh"])
        detector.last_key_ = (int(meta["last_key"][0]), str(meta["last_key"][1]))
        detector.cluster_of_ = {int(s): c for s, c in meta["clusters"].items()}
        detector.extra_ = dict(meta.get("extra", {}))
        return detector

    def seen(self, ts_us: int, request_id: str) -> bool:
        """Whether a call at (ts, request_id) is at or before the last one observed."""
        return (ts_us, request_id) <= self.last_key_


#: The per-account arrays (one row per account slot): grown, saved and restored together.
_ARRAYS = ("counters_", "hours_", "top_template_", "top_system_", "last_ts_", "age_days_",
           "allowlisted_", "risk_", "level_", "cluster_risk_")


def _config_json(config: OnlineConfig) -> dict[str, Any]:
    out: dict[str, Any] = {k: v for k, v in config.__dict__.items() if k != "ladder"}
    out["ladder"] = {"thresholds": dict(config.ladder.thresholds),
                     "allowlisted_max": config.ladder.allowlisted_max}
    return out


def _config_from_json(data: Mapping[str, Any]) -> OnlineConfig:
    values = dict(data)
    ladder = values.pop("ladder")
    return OnlineConfig(ladder=Ladder(thresholds=ladder["thresholds"],
                                      allowlisted_max=ladder["allowlisted_max"]), **values)

