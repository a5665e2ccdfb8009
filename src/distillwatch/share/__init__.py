"""share: findings and alerts in the formats a SIEM or a peer reads (OCSF Detection Findings)."""

from distillwatch.share._export import export_ocsf, ocsf_events
from distillwatch.share._ocsf import OCSF_VERSION, alert_id, alert_to_ocsf, finding_to_ocsf

__all__ = ["OCSF_VERSION", "alert_id", "alert_to_ocsf", "export_ocsf", "finding_to_ocsf",
           "ocsf_events"]
