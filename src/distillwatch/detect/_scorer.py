"""The account scorer: indicators against population baselines, a logistic model, reasons.

Follows the estimator shape used across the project: parameters in ``__init__``, learned state
(``baselines_``, ``medians_``) set by ``fit`` on the population being scanned, ``score`` returns
higher-is-more-suspicious risks. Scanning fits on the scanned population itself: baselines are
the population's own, which keeps big honest customers from looking unusual by size alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from distillwatch.detect._indicators import (
    INDICATORS,
    fit_baselines,
    indicator_matrix,
    raw_values,
)
from distillwatch.detect._model import LinearModel, load_default_model

__all__ = ["MIN_CALLS_HARVESTING", "AccountScorer", "Reason", "ScoreResult", "verdict_cap",
           "verdict_for", "with_silent_accounts"]

HARVESTING = "harvesting"
SUSPICIOUS = "suspicious"
NORMAL = "normal"

#: Calls of its own an account needs in the window before its own evidence can make it
#: ``harvesting`` (below it, at most ``suspicious``). One or two long answers are what a person
#: asking for an essay looks like, and they are no harvest: on one day of 100,000 simulated
#: accounts, 86 of the 159 honest accounts the model put over the line had one or two calls,
#: against 52 of 8,856 harvesters (bench/windows.py). A linked operation's verdict rests on its
#: pooled calls and is not held back by a member's few.
MIN_CALLS_HARVESTING = 3


@dataclass(frozen=True)
class Reason:
    """One reason code: the measured value, the population baseline, and its weight in risk."""

    code: str
    text: str
    value: float
    baseline: float
    contribution: float

    def describe(self) -> str:
        ind = _BY_CODE.get(self.code)
        if ind is None:  # a reason from outside the indicator set (e.g. ring membership)
            return self.text
        return f"{ind.text}: {_fmt(self.value, ind.unit)} (population median " \
               f"{_fmt(self.baseline, ind.unit)})"


_BY_CODE = {ind.code: ind for ind in INDICATORS}


def _fmt(value: float, unit: str) -> str:
    if value != value:  # NaN
        return "n/a"
    if unit == "%":
        return f"{100 * value:.1f}%"
    if unit == "x":
        return f"{value:.2f}x"
    if unit == "n":
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}"


@dataclass(frozen=True)
class ScoreResult:
    """Per account, in the profile table's order."""

    account_ids: list[str]
    risk: np.ndarray
    verdicts: list[str]
    reasons: list[list[Reason]]


def verdict_cap(*, allowlisted: bool = False, calls: int | None = None) -> str | None:
    """Why an account's verdict is at most ``suspicious`` whatever its risk, or None.

    An allowlisted account, and one with fewer than ``MIN_CALLS_HARVESTING`` ``calls`` of its
    own (when given), is held there; the text is what its finding tells the analyst.
    """
    if allowlisted:
        return "allowlisted accounts are at most suspicious"
    if calls is not None and calls < MIN_CALLS_HARVESTING:
        return (f"only {calls} call{'s' * (calls != 1)} in the window: "
                f"{MIN_CALLS_HARVESTING} of its own are needed for a harvesting verdict")
    return None


def verdict_for(risk: float, model: LinearModel, *, allowlisted: bool = False,
                calls: int | None = None) -> str:
    """Map a risk to a verdict, held at ``suspicious`` where ``verdict_cap`` says so."""
    if risk >= model.harvesting_threshold:
        capped = verdict_cap(allowlisted=allowlisted, calls=calls) is not None
        return SUSPICIOUS if capped else HARVESTING
    if risk >= model.suspicious_threshold:
        return SUSPICIOUS
    return NORMAL


class AccountScorer:
    """Scores account profiles; ``fit`` learns the population's baselines."""

    def __init__(self, model: LinearModel | None = None, *, max_reasons: int = 4) -> None:
        self.model = model
        self.max_reasons = max_reasons

    def fit(self, profiles: pa.Table) -> AccountScorer:
        raw = raw_values(profiles)
        self.baselines_ = fit_baselines(raw)
        x = indicator_matrix(raw, self.baselines_)
        self.reference_ = np.median(x, axis=0) if len(x) else np.zeros(len(INDICATORS))
        self.raw_medians_ = {k: float(np.nanmedian(v)) if np.isfinite(v).any() else float("nan")
                             for k, v in raw.items()}
        self.model_ = self.model or load_default_model()
        return self

    def matrix(self, profiles: pa.Table) -> np.ndarray:
        """The scaled indicator matrix of ``profiles`` under the fitted baselines."""
        return indicator_matrix(raw_values(profiles), self.baselines_)

    def score(self, profiles: pa.Table) -> ScoreResult:
        raw = raw_values(profiles)
        x = indicator_matrix(raw, self.baselines_)
        risk = self.model_.predict(x) if len(x) else np.zeros(0)
        contrib = (x - self.reference_) * self.model_.vector()
        allow = np.nan_to_num(raw["ALLOWLISTED"]) > 0
        calls = profiles.column("n_calls").to_pylist()
        verdicts = [verdict_for(float(r), self.model_, allowlisted=bool(a), calls=int(n or 0))
                    for r, a, n in zip(risk, allow, calls, strict=True)]
        reasons = [self._reasons(contrib[i], raw, i) for i in range(len(risk))]
        ids = profiles.column("account_id").to_pylist()
        return ScoreResult(ids, risk, verdicts, reasons)

    def _reasons(self, contrib: np.ndarray, raw: dict[str, np.ndarray], i: int) -> list[Reason]:
        order = np.argsort(-contrib, kind="stable")
        out = []
        for j in order[: self.max_reasons]:
            if contrib[j] <= 0.05:
                break
            code = INDICATORS[j].code
            out.append(Reason(code, INDICATORS[j].text, float(raw[code][i]),
                              self.raw_medians_[code], float(contrib[j])))
        return out


def with_silent_accounts(result: ScoreResult, known: list[str]) -> ScoreResult:
    """Add accounts known from the accounts file that made no call: risk 0, ``normal``.

    The spec asks for a row per account seen; an account that exists but is silent in the
    window is seen, and saying so (rather than leaving it out) lets a harness tell it apart
    from an account the scan lost.
    """
    present = set(result.account_ids)
    silent = sorted(a for a in set(known) if a not in present)
    if not silent:
        return result
    return ScoreResult(
        result.account_ids + silent,
        np.concatenate([result.risk, np.zeros(len(silent))]),
        result.verdicts + [NORMAL] * len(silent),
        result.reasons + [[] for _ in silent],
    )
