"""A logistic model over the indicators: fitted with Newton's method, stored as JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from distillwatch.detect._indicators import INDICATORS

__all__ = ["LinearModel", "fit_logistic", "load_default_model"]


@dataclass
class LinearModel:
    """Weights per indicator code, an intercept, and the verdict thresholds on risk."""

    weights: dict[str, float]
    bias: float
    harvesting_threshold: float = 0.5
    suspicious_threshold: float = 0.2
    provenance: dict[str, Any] = field(default_factory=dict)

    def vector(self) -> np.ndarray:
        return np.array([self.weights.get(ind.code, 0.0) for ind in INDICATORS])

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Risk in [0, 1] for each row of the scaled indicator matrix."""
        return _sigmoid(x @ self.vector() + self.bias)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> LinearModel:
        data = json.loads(text)
        return cls(**data)

    def save(self, path: Path) -> None:
        path.write_text(self.to_json())


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


def fit_logistic(x: np.ndarray, y: np.ndarray, *, l2: float = 1.0,
                 sample_weight: np.ndarray | None = None, signs: np.ndarray | None = None,
                 iters: int = 50) -> tuple[np.ndarray, float]:
    """L2-penalised logistic regression (intercept unpenalised) by Newton-Raphson.

    ``signs`` (+1, -1 or 0 per column) constrains each weight's side: a column whose fitted
    weight falls on the wrong side is pinned at zero and the rest refitted (an active set),
    until every weight obeys its sign.
    """
    d = x.shape[1]
    free = np.ones(d, dtype=bool)
    while True:
        w_free, b = _newton(x[:, free], y, l2=l2, sample_weight=sample_weight, iters=iters)
        w = np.zeros(d)
        w[free] = w_free
        if signs is None:
            return w, b
        wrong = free & (((signs > 0) & (w < 0)) | ((signs < 0) & (w > 0)))
        if not wrong.any():
            return w, b
        free &= ~wrong


def _newton(x: np.ndarray, y: np.ndarray, *, l2: float, sample_weight: np.ndarray | None,
            iters: int) -> tuple[np.ndarray, float]:
    n, d = x.shape
    xb = np.hstack([x, np.ones((n, 1))])
    w = np.zeros(d + 1)
    sw = np.ones(n) if sample_weight is None else sample_weight
    penalty = np.full(d + 1, l2)
    penalty[-1] = 0.0
    for _ in range(iters):
        p = _sigmoid(xb @ w)
        grad = xb.T @ (sw * (p - y)) + penalty * w
        hess = (xb * (sw * p * (1 - p))[:, None]).T @ xb + np.diag(penalty) + 1e-9 * np.eye(d + 1)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return w[:-1], float(w[-1])


def load_default_model() -> LinearModel:
    """The model shipped with the package (see ``bench/train_scorer.py`` for how it was made)."""
    text = resources.files("distillwatch.detect").joinpath("model.json").read_text()
    return LinearModel.from_json(text)
