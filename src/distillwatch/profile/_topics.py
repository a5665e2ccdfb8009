"""Topic breadth per account from a bounded sample of its distinct prompts.

Each account contributes at most ``per_account`` distinct prompts (chosen by prompt hash, so the
choice is deterministic and unbiased by time), embedded with wordllama's packaged weights. The
population's sample is clustered with k-means; an account's topic entropy, cluster count and
spread (one minus the length of its mean unit vector) say how widely it roams.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

import numpy as np
import pyarrow as pa

__all__ = ["TOPIC_SAMPLE_SQL", "embed", "topic_features", "topic_sample_sql"]

_TOPIC_SAMPLE_TEMPLATE = """
WITH picked AS (
    SELECT account_id, prompt_hash FROM (
        SELECT account_id, prompt_hash,
            row_number() OVER (PARTITION BY account_id ORDER BY prompt_hash) AS r
        FROM (SELECT DISTINCT account_id, prompt_hash FROM __CALLS__
              WHERE prompt_hash IS NOT NULL) d
    ) s WHERE r <= ?
)
SELECT c.account_id, MIN(c.user_excerpt) AS user_excerpt
FROM __CALLS__ c JOIN picked p ON p.account_id = c.account_id AND p.prompt_hash = c.prompt_hash
GROUP BY c.account_id, c.prompt_hash
ORDER BY c.account_id, c.prompt_hash
"""
# The sample is chosen on hashes alone and only its excerpts are fetched: ranking the excerpts
# themselves held every distinct prompt's text in the window operator, which ran out of memory
# at 100,000 accounts (4.2M calls) under the store's 1.5 GB limit.


def topic_sample_sql(calls: str = "calls") -> str:
    """Up to ``?`` distinct prompts per account, chosen by prompt hash."""
    return _TOPIC_SAMPLE_TEMPLATE.replace("__CALLS__", calls)


TOPIC_SAMPLE_SQL = topic_sample_sql()

_EMBED_CHARS = 300


@lru_cache(maxsize=1)
def _model() -> Any:
    import wordllama
    from wordllama import WordLlama

    folder = os.path.dirname(wordllama.__file__)
    return WordLlama.load(cache_dir=folder, disable_download=True)


def embed(texts: list[str]) -> np.ndarray:
    """Unit-length wordllama embeddings (256 dimensions) of the texts' first characters."""
    if not texts:
        return np.zeros((0, 256), dtype=np.float32)
    # Each distinct excerpt once, shortest first: templated traffic repeats excerpts across
    # accounts (a quarter are distinct in the medium suite), and batches of like lengths pad
    # less. A text's vector does not depend on its batch mates, so this changes no figure.
    excerpts = [t[:_EMBED_CHARS] for t in texts]
    distinct = sorted(set(excerpts), key=lambda t: (len(t), t))
    vectors = np.asarray(_model().embed(distinct), dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = vectors / np.maximum(norms, 1e-9)
    row = {t: i for i, t in enumerate(distinct)}
    return unit[np.fromiter((row[t] for t in excerpts), dtype=np.int64, count=len(excerpts))]


def _kmeans(x: np.ndarray, k: int, *, seed: int = 0, iters: int = 20) -> np.ndarray:
    """Spherical k-means with k-means++ seeding; returns the centroids."""
    rng = np.random.default_rng(seed)
    k = min(k, len(x))
    centroids = [x[rng.integers(len(x))]]
    dist = 1.0 - x @ centroids[0]
    for _ in range(1, k):
        p = np.maximum(dist, 0) ** 2
        total = p.sum()
        idx = rng.choice(len(x), p=p / total) if total > 0 else rng.integers(len(x))
        centroids.append(x[idx])
        dist = np.minimum(dist, 1.0 - x @ x[idx])
    c = np.stack(centroids)
    for _ in range(iters):
        assign = np.argmax(x @ c.T, axis=1)
        for j in range(k):
            members = x[assign == j]
            if len(members):
                v = members.sum(axis=0)
                c[j] = v / max(float(np.linalg.norm(v)), 1e-9)
    return c


def topic_features(sample: pa.Table, *, k: int = 32, fit_max: int = 20000,
                   seed: int = 0) -> pa.Table:
    """Per account: ``topic_entropy`` (0-1), ``topic_clusters``, ``topic_spread`` (0-1)."""
    accounts = sample.column("account_id").to_pylist()
    texts = [t or "" for t in sample.column("user_excerpt").to_pylist()]
    schema = pa.schema([("account_id", pa.string()), ("topic_entropy", pa.float64()),
                        ("topic_clusters", pa.int64()), ("topic_spread", pa.float64()),
                        ("topic_sampled", pa.int64())])
    if not texts:
        return pa.Table.from_pylist([], schema=schema)
    vectors = embed(texts)
    rng = np.random.default_rng(seed)
    fit = vectors if len(vectors) <= fit_max else vectors[rng.choice(len(vectors), fit_max,
                                                                      replace=False)]
    centroids = _kmeans(fit, k, seed=seed)
    assign = np.argmax(vectors @ centroids.T, axis=1)
    k_eff = len(centroids)
    rows = []
    order = np.argsort(np.array(accounts, dtype=object), kind="stable")
    acc_sorted = [accounts[i] for i in order]
    start = 0
    while start < len(order):
        end = start
        while end < len(order) and acc_sorted[end] == acc_sorted[start]:
            end += 1
        idx = order[start:end]
        counts = np.bincount(assign[idx], minlength=k_eff).astype(np.float64)
        p = counts[counts > 0] / counts.sum()
        entropy = float(-(p * np.log(p)).sum() / np.log(k_eff)) if k_eff > 1 else 0.0
        mean = vectors[idx].mean(axis=0)
        rows.append({
            "account_id": acc_sorted[start],
            "topic_entropy": entropy,
            "topic_clusters": int((counts > 0).sum()),
            "topic_spread": float(1.0 - np.linalg.norm(mean)) if len(idx) > 1 else 0.0,
            "topic_sampled": len(idx),
        })
        start = end
    return pa.Table.from_pylist(rows, schema=schema)
