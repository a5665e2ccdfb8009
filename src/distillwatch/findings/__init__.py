"""findings: evidence objects for flagged accounts (and, later, clusters)."""

from distillwatch.findings._build import (
    build_account_findings,
    build_cluster_findings,
    redact_text,
)
from distillwatch.findings._model import (
    AccountFinding,
    ClusterFinding,
    Example,
    ReasonEvidence,
    finding_id,
)

__all__ = ["AccountFinding", "ClusterFinding", "Example", "ReasonEvidence",
           "build_account_findings", "build_cluster_findings", "finding_id", "redact_text"]
