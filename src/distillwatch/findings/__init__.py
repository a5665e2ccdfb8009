"""findings: evidence objects for flagged accounts (and, later, clusters)."""

from distillwatch.findings._build import build_account_findings, redact_text
from distillwatch.findings._model import AccountFinding, Example, ReasonEvidence, finding_id

__all__ = ["AccountFinding", "Example", "ReasonEvidence", "build_account_findings",
           "finding_id", "redact_text"]
