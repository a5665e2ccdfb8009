"""The optional accounts file: one JSON object per line (see docs/traffic-log.md)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from distillwatch.errors import InputError
from distillwatch.ingest._files import open_input
from distillwatch.ingest._traffic import iter_jsonl
from distillwatch.ingest._validate import parse_ts, validate_account_record

__all__ = ["ACCOUNTS_SCHEMA", "read_accounts"]

ACCOUNTS_SCHEMA = pa.schema(
    [
        ("account_id", pa.string()),
        ("created_at", pa.timestamp("us", tz="UTC")),
        ("payment_fingerprint", pa.string()),
        ("email_domain", pa.string()),
        ("country", pa.string()),
        ("tier", pa.string()),
        ("allowlisted", pa.bool_()),
    ]
)


def read_accounts(name: str, *, strict: bool = False,
                  bad: list[InputError] | None = None) -> pa.Table:
    """Read an accounts file; bad lines go to ``bad`` (or raise when ``strict``)."""
    rows: dict[str, dict[str, object]] = {}
    with open_input(name) as stream:
        for number, item in iter_jsonl(Path(name), stream):
            if not isinstance(item, InputError):
                problem = validate_account_record(item)
                if problem is None:
                    rows[item["account_id"]] = {
                        "account_id": item["account_id"],
                        "created_at": parse_ts(item.get("created_at")),
                        "payment_fingerprint": item.get("payment_fingerprint"),
                        "email_domain": (item.get("email_domain") or "").lower() or None,
                        "country": item.get("country"),
                        "tier": item.get("tier"),
                        "allowlisted": bool(item.get("allowlisted", False)),
                    }
                    continue
                item = InputError(problem[1], path=name, line=number, field=problem[0])
            if strict:
                raise item
            if bad is not None:
                bad.append(item)
    return pa.Table.from_pylist(list(rows.values()), schema=ACCOUNTS_SCHEMA)
