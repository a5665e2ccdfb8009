"""detect: account risk from profiles, with reason codes and calibrated verdicts."""

from distillwatch.detect._indicators import INDICATORS, Indicator, indicator_matrix, raw_values
from distillwatch.detect._live import Alert, LiveRisk, LiveScorer
from distillwatch.detect._model import LinearModel, fit_logistic, load_default_model
from distillwatch.detect._online import OnlineConfig, OnlineDetector
from distillwatch.detect._scorer import (
    HARVESTING,
    MIN_CALLS_HARVESTING,
    NORMAL,
    SUSPICIOUS,
    AccountScorer,
    Reason,
    ScoreResult,
    verdict_cap,
    verdict_for,
    with_silent_accounts,
)

__all__ = [
    "HARVESTING",
    "INDICATORS",
    "MIN_CALLS_HARVESTING",
    "NORMAL",
    "SUSPICIOUS",
    "AccountScorer",
    "Alert",
    "Indicator",
    "LinearModel",
    "LiveRisk",
    "LiveScorer",
    "OnlineConfig",
    "OnlineDetector",
    "Reason",
    "ScoreResult",
    "fit_logistic",
    "indicator_matrix",
    "load_default_model",
    "raw_values",
    "verdict_cap",
    "verdict_for",
    "with_silent_accounts",
]
