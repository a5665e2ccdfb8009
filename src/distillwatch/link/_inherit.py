"""Ring members inherit their operation's risk (within limits)."""

from __future__ import annotations

import numpy as np

from distillwatch.detect import HARVESTING, LinearModel, Reason, ScoreResult, verdict_for

__all__ = ["inherit_cluster_risk"]


def inherit_cluster_risk(
    accounts: ScoreResult, clusters: ScoreResult, membership: dict[str, str],
    model: LinearModel, allowlisted: set[str], *, floor_share: float = 1.0,
) -> ScoreResult:
    """Raise each member of a ``harvesting`` cluster to the cluster's risk.

    A member whose own risk is already higher keeps it; if its verdict was held at
    ``suspicious`` by its own few calls (``MIN_CALLS_HARVESTING``), the operation's pooled
    calls are the evidence and it becomes ``harvesting``.

    Only members whose own risk reaches ``floor_share`` of the suspicious threshold inherit
    (by default: members already suspicious in their own right). A linked group can hold an
    honest account caught by a shared address or a common system prompt; linking may sharpen
    a verdict but never makes one out of a neighbour's evidence alone.
    """
    cluster_risk = dict(zip(clusters.account_ids, clusters.risk, strict=True))
    cluster_verdict = dict(zip(clusters.account_ids, clusters.verdicts, strict=True))
    floor = floor_share * model.suspicious_threshold
    sizes: dict[str, int] = {}
    for group in membership.values():
        sizes[group] = sizes.get(group, 0) + 1
    risk = accounts.risk.copy()
    verdicts = list(accounts.verdicts)
    reasons = [list(r) for r in accounts.reasons]
    for i, acc in enumerate(accounts.account_ids):
        cid = membership.get(acc)
        if cid is None or cluster_verdict.get(cid) != HARVESTING:
            continue
        if float(risk[i]) < floor:
            continue
        if float(cluster_risk[cid]) > float(risk[i]):
            risk[i] = float(cluster_risk[cid])
        elif verdicts[i] == HARVESTING:
            continue  # its own evidence already says so
        # the operation's pooled calls, not the member's few, are the evidence here
        verdicts[i] = verdict_for(float(risk[i]), model, allowlisted=acc in allowlisted)
        ring = Reason("RING_MEMBER",
                      f"member of linked operation {cid} ({sizes[cid]} accounts, "
                      f"operation risk {float(cluster_risk[cid]):.3f})",
                      float(sizes[cid]), float("nan"), float(np.log(max(sizes[cid], 2))))
        reasons[i] = [ring, *reasons[i]][:5]
    return ScoreResult(accounts.account_ids, risk, verdicts, reasons)
