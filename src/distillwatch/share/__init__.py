"""share: findings and alerts in the formats a SIEM or a peer reads (OCSF, OpenTelemetry logs)."""

from distillwatch.share._export import FORMATS, export, ocsf_events, otlp_records, read_records
from distillwatch.share._ocsf import OCSF_VERSION, alert_id, alert_to_ocsf, finding_to_ocsf
from distillwatch.share._otlp import (
    alert_to_log_record,
    any_value,
    finding_to_log_record,
    logs_request,
)

__all__ = ["FORMATS", "OCSF_VERSION", "alert_id", "alert_to_log_record", "alert_to_ocsf",
           "any_value", "export", "finding_to_log_record", "finding_to_ocsf", "logs_request",
           "ocsf_events", "otlp_records", "read_records"]
