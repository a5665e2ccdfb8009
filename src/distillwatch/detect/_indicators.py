"""Indicators: the account profile turned into comparable numbers, each with a reason code.

An indicator is either a share in [0, 1] used as it is, or a heavy-tailed quantity (volume,
tokens, churn) taken as ``log1p`` and compared with the population's own median and MAD, so the
long tail of big honest customers sets the baseline rather than a fixed threshold.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pyarrow as pa

__all__ = [
    "INDICATORS",
    "MIN_SCALE",
    "Indicator",
    "fit_baselines",
    "indicator_matrix",
    "mid_quantile",
    "raw_from_columns",
    "raw_values",
]

Kind = Literal["share", "log", "raw"]


@dataclass(frozen=True)
class Indicator:
    """One model input: where it comes from, how it is scaled, and how to explain it.

    ``sign`` is the direction domain knowledge allows its weight: +1 evidence of harvesting,
    -1 evidence of honest use, 0 either. Training keeps weights on the allowed side, so a
    quirk of the simulated population can never turn, say, reasoning elicitation into a sign
    of innocence.

    ``among_nonzero`` fits a log indicator's baseline on the accounts where it is above zero:
    volume counted outside end-user traffic is zero for every app that passes its users' ids,
    and the share of such apps (40-55% in the simulated mixes) decided whether the median
    sat at zero or in the middle of everyone else's volume.
    """

    code: str
    kind: Kind
    text: str  # what a high value means, for an analyst
    unit: str = ""  # "%" share, "x" ratio, "n" count, "" other number
    sign: int = 1
    among_nonzero: bool = False


INDICATORS: tuple[Indicator, ...] = (
    Indicator("HIGH_VOLUME", "log", "calls not attributed to an end-user id", "n",
              among_nonzero=True),
    Indicator("OUTPUT_TOKENS", "log", "output tokens taken outside end-user traffic", "n",
              among_nonzero=True),
    Indicator("OUTPUT_HEAVY", "log", "output tokens per input token", "x"),
    Indicator("LONG_OUTPUTS", "log", "mean output tokens per call", "n"),
    Indicator("DISTINCT_PROMPTS", "share", "share of calls with a prompt never seen before", "%"),
    Indicator("SINGLE_TURN", "share", "share of single-turn calls (no conversation)", "%"),
    Indicator(
        "COT_ELICITATION", "share", "share of calls that ask for step-by-step reasoning", "%"
    ),
    Indicator("REASONING_EFFORT", "share", "share of calls at reasoning effort 'high'", "%"),
    Indicator(
        "REASONING_TOKENS", "share", "share of calls that returned reasoning tokens", "%", sign=1
    ),
    Indicator("TOP_LOGPROBS", "share", "share of calls asking for 10+ top logprobs", "%"),
    Indicator("LOGIT_BIAS", "share", "share of calls with logit_bias probes", "%"),
    Indicator(
        "TINY_MAX_TOKENS", "share", "share of calls capped at 5 tokens or fewer", "%", sign=0
    ),
    Indicator("HIGH_MAX_TOKENS", "share", "share of calls asking for 4,000+ output tokens", "%"),
    Indicator("MULTI_SAMPLE", "share", "share of calls asking for n > 1 completions", "%"),
    Indicator(
        "HARVEST_STYLE_SHARE",
        "share",
        "share of calls in harvest style (reasoning, logprobs, n>1, bias)",
        "%",
    ),
    Indicator("HARVEST_STYLE_CALLS", "log", "calls in harvest style", "n"),
    Indicator(
        "SIDE_MODE",
        "share",
        "share of calls outside the main system prompt with 800+ output tokens",
        "%",
    ),
    Indicator(
        "SIDE_MODE_CALLS",
        "log",
        "calls outside the main system prompt with 800+ output tokens",
        "n",
    ),
    Indicator("TOPIC_BREADTH", "share", "topic entropy over the population's topic map", ""),
    Indicator("TOPIC_SPREAD", "share", "spread of prompt topics (0 narrow, 1 everywhere)", ""),
    Indicator(
        "TEMPLATE_SWEEP", "share", "one prompt template filled with widely varied content", ""
    ),
    Indicator(
        "TEMPLATE_SHARE", "share", "share of calls on the account's top template", "%", sign=0
    ),
    Indicator(
        "CROSS_MODEL_REPEATS",
        "share",
        "share of prompts re-asked of another model (evaluation runs)",
        "%",
        sign=-1,
    ),
    Indicator("REPEATED_PROMPTS", "share", "share of prompts asked more than once", "%", sign=-1),
    Indicator("END_USERS", "share", "share of calls carrying an end-user id", "%", sign=-1),
    Indicator("TOOLS", "share", "share of calls with tools", "%", sign=-1),
    Indicator("TEMPERATURE_ZERO", "share", "share of calls at temperature 0", "%", sign=0),
    Indicator("RATE_LIMITED", "share", "share of calls refused with 429", "%"),
    Indicator(
        "REGULAR_TIMING", "raw", "regularity of inter-arrival times (1 - CV, clipped)", "", sign=0
    ),
    Indicator("ROUND_THE_CLOCK", "share", "spread over the hours of the day (entropy)", "", sign=0),
    Indicator("ADDRESS_CHURN", "log", "distinct /24 or /48 networks per 1,000 calls", ""),
    Indicator("AGENT_CHURN", "log", "distinct user agents", "n"),
    Indicator("KEY_CHURN", "log", "distinct API keys", "n"),
    Indicator("MULTILINGUAL", "share", "share of prompts in a non-Latin script", "%", sign=0),
    Indicator("NEW_ACCOUNT", "raw", "account younger than 30 days at first call (1 = new)", ""),
    Indicator("ALLOWLISTED", "raw", "account vetted by the operator (allowlist)", "", sign=-1),
)


def _col(table: pa.Table, name: str) -> np.ndarray:
    if name not in table.column_names:
        return np.full(table.num_rows, np.nan)
    values = table.column(name).to_pylist()
    return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)


def raw_values(profiles: pa.Table) -> dict[str, np.ndarray]:
    """Each indicator's measured value per account, in the units shown to an analyst."""
    return raw_from_columns(lambda name: _col(profiles, name))


def raw_from_columns(col: Callable[[str], np.ndarray]) -> dict[str, np.ndarray]:
    """Indicators from profile columns given by name (``col`` returns float64, NaN for null).

    The one definition of every indicator: ``scan`` feeds it profile tables, the online
    detector its per-account state, so both explain a risk with the same codes and units.
    """
    n = col("n_calls")
    ips = col("distinct_ip_prefixes")
    gap_cv = col("gap_cv")
    age = col("account_age_days")
    hour_entropy = col("hour_entropy") / math.log(24)
    spread = col("topic_spread")
    template = col("top_template_share")
    # Volume counts as evidence only where no end user stands behind it: an app or reseller
    # that passes its users' ids is big because it has many users, not because it harvests.
    unattributed = 1.0 - np.nan_to_num(col("end_user_share"))
    return {
        "HIGH_VOLUME": n * unattributed,
        "OUTPUT_TOKENS": col("completion_tokens") * unattributed,
        "OUTPUT_HEAVY": col("out_in_ratio"),
        "LONG_OUTPUTS": col("mean_completion_tokens"),
        "DISTINCT_PROMPTS": col("distinct_prompt_rate"),
        "SINGLE_TURN": col("single_turn_share"),
        "COT_ELICITATION": col("cot_share"),
        "REASONING_EFFORT": col("effort_high_share"),
        "REASONING_TOKENS": col("reasoning_share"),
        "TOP_LOGPROBS": col("top_logprobs_high_share"),
        "LOGIT_BIAS": col("logit_bias_share"),
        "TINY_MAX_TOKENS": col("tiny_max_tokens_share"),
        "HIGH_MAX_TOKENS": col("high_max_tokens_share"),
        "MULTI_SAMPLE": col("multi_sample_share"),
        "HARVEST_STYLE_SHARE": col("harvest_like_share"),
        "HARVEST_STYLE_CALLS": col("harvest_like_calls"),
        "SIDE_MODE": col("side_mode_share"),
        "SIDE_MODE_CALLS": col("side_mode_calls"),
        "TOPIC_BREADTH": col("topic_entropy"),
        "TOPIC_SPREAD": spread,
        "TEMPLATE_SWEEP": np.nan_to_num(template) * np.nan_to_num(spread),
        "TEMPLATE_SHARE": template,
        "CROSS_MODEL_REPEATS": col("cross_model_repeat_share"),
        "REPEATED_PROMPTS": col("repeated_prompt_share"),
        "END_USERS": col("end_user_share"),
        "TOOLS": col("tools_share"),
        "TEMPERATURE_ZERO": col("temp_zero_share"),
        "RATE_LIMITED": col("rate_limited_share"),
        "REGULAR_TIMING": np.clip(1.0 - np.nan_to_num(gap_cv, nan=1.0), 0.0, 1.0),
        "ROUND_THE_CLOCK": hour_entropy,
        "ADDRESS_CHURN": 1000.0 * ips / np.maximum(n, 1.0),
        "AGENT_CHURN": col("distinct_user_agents"),
        "KEY_CHURN": col("distinct_keys"),
        "MULTILINGUAL": col("non_latin_share"),
        "NEW_ACCOUNT": np.where(np.isnan(age), 0.0, (age < 30.0).astype(np.float64)),
        "ALLOWLISTED": col("allowlisted"),
    }


def indicator_matrix(
    raw: dict[str, np.ndarray], baselines: dict[str, tuple[float, float]]
) -> np.ndarray:
    """Scaled inputs (accounts x indicators): shares as is, log indicators as robust z-scores."""
    cols = []
    for ind in INDICATORS:
        x = raw[ind.code]
        if ind.kind == "log":
            median, scale = baselines[ind.code]
            z = (np.log1p(np.nan_to_num(np.maximum(x, 0.0))) - median) / scale
            cols.append(np.clip(z, -4.0, 4.0) / 4.0)
        else:
            cols.append(np.nan_to_num(x, nan=0.0))
    return np.stack(cols, axis=1) if cols else np.zeros((0, 0))


def mid_quantile(x: np.ndarray, q: float) -> float:
    """The ``q`` quantile of ``x`` read off its mid-distribution function, interpolated.

    Counts such as distinct keys or user agents take few values, and most accounts share one
    or two of them. An ordinary median then jumps from one value to the next when a few
    accounts join the population (half the accounts with one user agent, half with two), and
    the MAD collapses to zero with it, so the same account scores far apart in two scans of
    nearly the same traffic. The mid-distribution function F(v) = P(X < v) + P(X = v) / 2,
    interpolated linearly between the values seen, moves continuously with the population's
    shares and equals the usual (Hazen) quantile when no two values tie.
    """
    values, counts = np.unique(x, return_counts=True)
    if len(values) == 0:
        return 0.0
    below = np.cumsum(counts) - counts
    mid = (below + 0.5 * counts) / counts.sum()
    return float(np.interp(q, mid, values))


#: Smallest robust scale of a log indicator (log1p units): a z of 1 is at least a 28% change.
MIN_SCALE = 0.25


def fit_baselines(raw: dict[str, np.ndarray]) -> dict[str, tuple[float, float]]:
    """Population median and robust scale (1.4826 MAD, floored) of each log indicator.

    Both are mid-distribution quantiles (:func:`mid_quantile`), so a baseline moves smoothly
    with the population's mix rather than jumping between the few values a count takes;
    indicators marked ``among_nonzero`` are fitted on the accounts where they are above zero.
    """
    out: dict[str, tuple[float, float]] = {}
    for ind in INDICATORS:
        if ind.kind != "log":
            continue
        x = np.log1p(np.nan_to_num(np.maximum(raw[ind.code], 0.0)))
        if ind.among_nonzero and (x > 0).any():
            x = x[x > 0]
        if len(x) == 0:
            out[ind.code] = (0.0, 1.0)
            continue
        median = mid_quantile(x, 0.5)
        mad = mid_quantile(np.abs(x - median), 0.5) * 1.4826
        out[ind.code] = (median, max(mad, MIN_SCALE))
    return out
