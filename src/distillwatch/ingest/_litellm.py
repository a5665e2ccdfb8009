"""Adapter: LiteLLM proxy spend logs (the ``LiteLLM_SpendLogs`` table) to traffic-log v1.

Accepted exports (see docs/adapters.md for the column mapping and what is inferred):

- a JSON array of rows (``[{...}, {...}]``), or an object ``{"data": [...]}`` as the proxy's
  paginated UI endpoint returns it; the row number is the 1-based index in the array;
- JSON Lines, one row per line; the row number is the 1-based line;
- CSV with a header row (``\\copy "LiteLLM_SpendLogs" TO ... CSV HEADER``); JSON-valued columns
  (``metadata``, ``messages``, ``response``, ``proxy_server_request``, ``request_tags``) are
  JSON text inside the cells; the row number is the 1-based physical line where the row starts.

Every row comes back either as a record that passes ``validate_traffic_record`` or as an
``InputError`` naming the row and the column; only a file that is not JSON or CSV at all raises.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, BinaryIO

import orjson

from distillwatch.errors import InputError
from distillwatch.ingest._validate import validate_traffic_record

__all__ = ["iter_litellm_spend_logs"]

#: LiteLLM ``call_type`` -> traffic-log endpoint. Both the sync and async spellings occur.
CALL_TYPE_ENDPOINTS: dict[str, str] = {
    "completion": "/v1/chat/completions",
    "acompletion": "/v1/chat/completions",
    "text_completion": "/v1/completions",
    "atext_completion": "/v1/completions",
    "embedding": "/v1/embeddings",
    "aembedding": "/v1/embeddings",
    "responses": "/v1/responses",
    "aresponses": "/v1/responses",
    "image_generation": "/v1/images/generations",
    "aimage_generation": "/v1/images/generations",
    "moderation": "/v1/moderations",
    "amoderation": "/v1/moderations",
    "transcription": "/v1/audio/transcriptions",
    "atranscription": "/v1/audio/transcriptions",
    "speech": "/v1/audio/speech",
    "aspeech": "/v1/audio/speech",
    "rerank": "/v1/rerank",
    "arerank": "/v1/rerank",
    "anthropic_messages": "/v1/messages",
}

_JSON_COLUMNS = ("metadata", "messages", "response", "proxy_server_request", "request_tags")
_HEX64 = re.compile(r"[0-9a-f]{64}")
KEY_ID_LENGTH = 16
_REQUEST_SECRET_KEYS = ("api_key", "authorization", "Authorization")


# ---------------------------------------------------------------------------------------------
# Helpers shared with the OpenTelemetry adapter.


def format_ts(moment: datetime) -> str:
    """RFC 3339 in UTC with ``Z``: milliseconds, or microseconds when they are not zero."""
    moment = moment.astimezone(UTC)
    spec = "milliseconds" if moment.microsecond % 1000 == 0 else "microseconds"
    return moment.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def loads(data: bytes | str) -> Any:
    """Parse JSON; any failure (syntax, depth) is a ``ValueError``.

    The fast parser is strict; what it refuses is retried with the standard library, which
    also reads the ``NaN``/``Infinity`` that Python's own JSON writer emits (read as null)
    and integers beyond 64 bits.
    """
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:  # a ValueError subclass
        try:
            return json.loads(data, parse_constant=lambda _: None)
        except (ValueError, RecursionError):
            raise ValueError(str(exc)) from exc


def iter_json_source(
    path: Path, stream: IO[bytes], what: str,
) -> Iterator[tuple[str, int, Any | InputError]]:
    """Read a JSON document or JSON Lines from ``stream``.

    Yields ``("line", line_number, value_or_error)`` for JSON Lines (blank lines are skipped,
    an unparseable line is an ``InputError``) or one ``("document", 1, value)`` when the whole
    stream is one (possibly pretty-printed) JSON value. Raises ``InputError`` when the stream
    is not JSON at all. ``what`` names the format in messages.
    """
    where = str(path)
    first = b""
    first_no = 0
    for line_no, raw in enumerate(stream, start=1):
        if raw.strip():
            first, first_no = raw, line_no
            break
    if not first:
        return
    head = first.strip()
    if head[:1] == b"[":
        # A JSON array is always one document, even when it fits on one line.
        whole = first + stream.read()
        try:
            yield ("document", 1, loads(whole))
        except ValueError as exc:
            raise InputError(f"not {what}: {exc}", path=where) from exc
        return
    try:
        value = loads(head)
    except ValueError:
        value = _NOT_PARSED
    if value is not _NOT_PARSED:
        yield ("line", first_no, value)
        yield from _iter_lines(path, stream, first_no)
        return
    if head[:1] not in (b"{", b"["):
        raise InputError(f"not {what}: the first line is not JSON", path=where, line=first_no)
    rest = stream.read()
    whole = first + rest
    try:
        document = loads(whole)
    except ValueError as exc:
        if head in (b"{", b"["):
            # Pretty-printed document that does not parse: nothing can be recovered row by row.
            raise InputError(f"not {what}: {exc}", path=where) from exc
        # JSON Lines whose first line is broken: report it and read on line by line.
        yield ("line", first_no, _line_error(path, first_no, "is not JSON"))
        yield from _iter_lines(path, io.BytesIO(rest), first_no)
        return
    yield ("document", 1, document)


class _NotParsed:
    pass


_NOT_PARSED = _NotParsed()


def _line_error(path: Path, line: int, problem: str) -> InputError:
    return InputError(f"line {problem}", path=str(path), line=line, field="<line>")


def _iter_lines(
    path: Path, stream: IO[bytes], line_no: int,
) -> Iterator[tuple[str, int, Any | InputError]]:
    for raw in stream:
        line_no += 1
        text = raw.strip()
        if not text:
            continue
        try:
            yield ("line", line_no, loads(text))
        except ValueError:
            yield ("line", line_no, _line_error(path, line_no, "is not JSON"))


def parse_time(value: Any) -> datetime | None:
    """A timestamp as LiteLLM exports it: ISO 8601 with ``T`` or a space, with or without an
    offset (no offset means UTC, as Postgres ``timestamp`` columns hold UTC), or epoch
    seconds as a number. ``None`` when it cannot be read."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        if not math.isfinite(value) or not 0 <= value < 1e14:
            return None
        if value >= 1e11:  # epoch milliseconds
            value = value / 1000.0
        return datetime.fromtimestamp(value, UTC)
    if not isinstance(value, str):
        return None
    text = value.strip()
    if len(text) < 10:
        return None
    if text[-1] in "Zz":
        text = text[:-1] + "+00:00"
    if text.endswith(" UTC"):
        text = text[:-4] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            number = float(text)
        except ValueError:
            return None
        return parse_time(number)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def latency_ms(start: datetime, end: datetime | None) -> float | None:
    if end is None:
        return None
    delta: timedelta = end - start
    millis = delta.total_seconds() * 1000.0
    return round(millis, 3) if millis >= 0 else None


def key_hash(value: str) -> str:
    """The SHA-256 hex of an API key, as LiteLLM stores it. A value that already is a 64-digit
    hex hash is kept; anything else (``sk-...`` raw keys, other secrets) is hashed."""
    lowered = value.strip().lower()
    if _HEX64.fullmatch(lowered):
        return lowered
    return hashlib.sha256(value.strip().encode("utf-8")).hexdigest()


def key_id_from(value: str) -> str:
    """A short, non-secret key id: the first 16 hex digits of the key's SHA-256."""
    return key_hash(value)[:KEY_ID_LENGTH]


def nonempty_str(value: Any) -> str | None:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


# ---------------------------------------------------------------------------------------------
# Reading the export.


def iter_litellm_spend_logs(
    path: Path, stream: BinaryIO,
) -> Iterator[tuple[int, dict[str, Any] | InputError]]:
    """Convert a LiteLLM ``LiteLLM_SpendLogs`` export (JSON array, JSON Lines or CSV) to
    traffic-log v1 records, one ``(row_number, record_or_error)`` per input row."""
    where = str(path)
    first_byte, stream = peek_first_byte(stream)
    if first_byte is None:
        return
    if first_byte in (b"[", b"{"):
        for kind, number, value in iter_json_source(path, stream, "a LiteLLM spend-logs export"):
            if isinstance(value, InputError):
                yield number, value
            elif kind == "document":
                yield from _iter_document(path, value)
            else:
                yield number, _convert_or_error(path, number, value)
        return
    yield from _iter_csv(path, where, stream)


class _Prepended(io.RawIOBase):
    """A raw stream that replays ``head`` and then reads on from ``rest``."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        super().__init__()
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._head:
            size = min(len(view), len(self._head))
            view[:size] = self._head[:size]
            self._head = self._head[size:]
            return size
        data = self._rest.read(len(view))
        view[: len(data)] = data
        return len(data)


def peek_first_byte(stream: IO[bytes]) -> tuple[bytes | None, BinaryIO]:
    """The first non-whitespace byte and a stream that replays the input from its start, less
    a UTF-8 byte-order mark; the input stream need not be seekable."""
    head = b""
    while True:
        chunk = stream.read(65536)
        head += chunk
        stripped = head.removeprefix(b"\xef\xbb\xbf").lstrip()
        if stripped or not chunk:
            break
    head = head.removeprefix(b"\xef\xbb\xbf")
    replay = io.BufferedReader(_Prepended(head, stream), buffer_size=1 << 16)
    return (stripped[:1] or None), replay


def _iter_document(
    path: Path, document: Any,
) -> Iterator[tuple[int, dict[str, Any] | InputError]]:
    rows: Any = document
    if isinstance(document, dict) and isinstance(document.get("data"), list):
        rows = document["data"]
    elif isinstance(document, dict):
        rows = [document]
    if not isinstance(rows, list):
        raise InputError(
            "not a LiteLLM spend-logs export: expected a JSON array of rows", path=str(path),
        )
    for index, row in enumerate(rows, start=1):
        yield index, _convert_or_error(path, index, row)


def _iter_csv(
    path: Path, where: str, stream: IO[bytes],
) -> Iterator[tuple[int, dict[str, Any] | InputError]]:
    # Spend-log cells hold whole prompts and responses: lift the csv module's 128 KiB limit.
    if csv.field_size_limit() < 2**31 - 1:
        csv.field_size_limit(2**31 - 1)
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace", newline="")
    reader = csv.reader(text)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise InputError(f"not a LiteLLM spend-logs CSV: {exc}", path=where, line=1) from exc
    columns = [name.strip() for name in header]
    if "request_id" not in columns or not (
        "startTime" in columns or "start_time" in columns
    ):
        raise InputError(
            "not a LiteLLM spend-logs export: the CSV header has no request_id and startTime "
            "columns", path=where, line=1,
        )
    while True:
        start_line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield start_line, InputError(
                f"unreadable CSV row: {exc}", path=where, line=start_line, field="<row>",
            )
            if reader.line_num < start_line:  # no progress: stop rather than loop
                return
            continue
        if not cells or (len(cells) == 1 and not cells[0].strip()):
            continue
        if len(cells) != len(columns):
            yield start_line, InputError(
                f"expected {len(columns)} columns, found {len(cells)}",
                path=where, line=start_line, field="<row>",
            )
            continue
        row: dict[str, Any] = dict(zip(columns, cells, strict=True))
        yield start_line, _convert_or_error(path, start_line, row)


# ---------------------------------------------------------------------------------------------
# Converting one row.


class _RowError(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _convert_or_error(path: Path, number: int, row: Any) -> dict[str, Any] | InputError:
    try:
        record = convert_spend_log_row(row)
    except _RowError as err:
        return InputError(err.message, path=str(path), line=number, field=err.field)
    problem = validate_traffic_record(record)
    if problem is not None:
        field, message = problem
        return InputError(
            f"converted record is not valid traffic-log v1: {field} {message}",
            path=str(path), line=number, field=field,
        )
    return record


def _cell(row: dict[str, Any], *names: str) -> Any:
    for name in names:
        if name in row:
            value = row[name]
            if isinstance(value, str) and not value.strip():
                continue
            if value is not None:
                return value
    return None


def _json_cell(row: dict[str, Any], name: str) -> Any:
    """A JSON-valued column: already decoded (JSON export) or JSON text (CSV export)."""
    value = _cell(row, name)
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text[:1] in ("{", "[", '"') or text in ("null", "true", "false"):
        try:
            return loads(text)
        except ValueError as exc:
            raise _RowError(name, f"is not valid JSON: {exc}") from exc
    return value


def _int_cell(row: dict[str, Any], name: str) -> int | None:
    value = _cell(row, name)
    if value is None:
        return None
    if isinstance(value, bool):
        raise _RowError(name, "must be an integer")
    if isinstance(value, int):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise _RowError(name, "must be an integer") from exc
    if not math.isfinite(number) or number != int(number):
        raise _RowError(name, "must be an integer")
    return int(number)


def _time_cell(row: dict[str, Any], *names: str, required: bool) -> datetime | None:
    value = _cell(row, *names)
    if value is None:
        if required:
            raise _RowError(names[0], "is required")
        return None
    parsed = parse_time(value)
    if parsed is None:
        raise _RowError(names[0], f"is not a timestamp: {str(value)[:60]!r}")
    return parsed


def _is_empty(value: Any) -> bool:
    return value is None or value == {} or value == [] or value == ""


def convert_spend_log_row(row: Any) -> dict[str, Any]:
    """Map one spend-log row (a dict of column -> value) to a traffic-log v1 record.

    Raises ``_RowError(field, message)`` when a column needed for the record is missing or
    malformed; the record still goes through ``validate_traffic_record`` afterwards.
    """
    if not isinstance(row, dict):
        raise _RowError("<record>", "a spend-log row must be a JSON object")
    request_id = nonempty_str(_cell(row, "request_id", "id"))
    if request_id is None:
        raise _RowError("request_id", "is required")
    start = _time_cell(row, "startTime", "start_time", required=True)
    assert start is not None
    end = _time_cell(row, "endTime", "end_time", required=False)

    metadata = _json_cell(row, "metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise _RowError("metadata", "must be a JSON object")
    metadata = metadata or {}

    call_type = nonempty_str(_cell(row, "call_type"))
    if call_type is None:
        raise _RowError("call_type", "is required")
    endpoint = CALL_TYPE_ENDPOINTS.get(call_type, f"/litellm/{call_type}")

    api_key = nonempty_str(_cell(row, "api_key")) or nonempty_str(metadata.get("user_api_key"))
    key_id = key_id_from(api_key) if api_key else None
    account = (
        nonempty_str(_cell(row, "team_id"))
        or nonempty_str(metadata.get("user_api_key_team_id"))
        or nonempty_str(_cell(row, "user"))
        or nonempty_str(metadata.get("user_api_key_user_id"))
        or (f"apikey:{key_id}" if key_id else None)
    )
    if account is None:
        raise _RowError("team_id", "no team_id, user or api_key to attribute the call to")

    status = _status(row, metadata)
    model = nonempty_str(_cell(row, "model_group")) or nonempty_str(_cell(row, "model"))
    request = _request(row, endpoint, model)
    prompt_tokens = _int_cell(row, "prompt_tokens")
    completion_tokens = _int_cell(row, "completion_tokens")
    total_tokens = _int_cell(row, "total_tokens")
    response: dict[str, Any] | None = None
    if status < 400:
        response = _response(
            row, request_id, model, prompt_tokens, completion_tokens, total_tokens,
        )

    record: dict[str, Any] = {
        "ts": format_ts(start),
        "request_id": request_id,
        "account_id": account,
    }
    if key_id:
        record["key_id"] = key_id
    end_user = nonempty_str(_cell(row, "end_user")) or nonempty_str(request.get("user"))
    if end_user:
        record["user"] = end_user
    client_ip = nonempty_str(_cell(row, "requester_ip_address")) or nonempty_str(
        metadata.get("requester_ip_address"),
    )
    if client_ip:
        record["client_ip"] = client_ip
    record["endpoint"] = endpoint
    record["status"] = status
    latency = latency_ms(start, end)
    if latency is not None:
        record["latency_ms"] = latency
    record["request"] = request
    record["response"] = response
    record["litellm"] = _extras(row, metadata)
    return record


def _status(row: dict[str, Any], metadata: dict[str, Any]) -> int:
    raw = nonempty_str(_cell(row, "status")) or nonempty_str(metadata.get("status"))
    state = (raw or "success").lower()
    if state == "success":
        return 200
    if state.isdigit() and 100 <= int(state) <= 599:
        return int(state)
    info = metadata.get("error_information")
    if isinstance(info, dict):
        code = nonempty_str(info.get("error_code"))
        if code and code.isdigit() and 400 <= int(code) <= 599:
            return int(code)
    return 500


def _request(row: dict[str, Any], endpoint: str, model: str | None) -> dict[str, Any]:
    body = _json_cell(row, "proxy_server_request")
    if isinstance(body, dict) and body:
        request = {k: v for k, v in body.items() if k not in _REQUEST_SECRET_KEYS}
        if model and not nonempty_str(request.get("model")):
            request["model"] = model
        return request
    if body is not None and not isinstance(body, dict):
        raise _RowError("proxy_server_request", "must be a JSON object")
    request = {"model": model} if model else {}
    messages = _json_cell(row, "messages")
    if isinstance(messages, dict) and isinstance(messages.get("messages"), list):
        messages = messages["messages"]
    if _is_empty(messages):
        return request
    if isinstance(messages, list):
        if endpoint in ("/v1/embeddings", "/v1/responses", "/v1/moderations"):
            request["input"] = messages
        else:
            request["messages"] = messages
    elif isinstance(messages, str):
        if endpoint == "/v1/chat/completions":
            request["messages"] = [{"role": "user", "content": messages}]
        elif endpoint == "/v1/completions":
            request["prompt"] = messages
        else:
            request["input"] = messages
    else:
        raise _RowError("messages", "must be a list of messages or a string")
    return request


def _response(
    row: dict[str, Any], request_id: str, model: str | None,
    prompt_tokens: int | None, completion_tokens: int | None, total_tokens: int | None,
) -> dict[str, Any]:
    body = _json_cell(row, "response")
    response: dict[str, Any]
    if isinstance(body, dict) and body:
        response = dict(body)
    elif isinstance(body, str) and body.strip():
        response = {
            "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": body}}],
        }
    elif _is_empty(body):
        response = {}
    else:
        raise _RowError("response", "must be a JSON object")
    response.setdefault("id", request_id)
    if model:
        response.setdefault("model", model)
    usage = response.get("usage")
    usage = dict(usage) if isinstance(usage, dict) else {}
    if "prompt_tokens" not in usage:
        usage["prompt_tokens"] = (
            prompt_tokens if prompt_tokens is not None else usage.get("input_tokens", 0)
        )
    if "completion_tokens" not in usage:
        usage["completion_tokens"] = (
            completion_tokens if completion_tokens is not None
            else usage.get("output_tokens", 0)
        )
    if "total_tokens" not in usage:
        if total_tokens is not None:
            usage["total_tokens"] = total_tokens
        else:
            pt, ct = usage["prompt_tokens"], usage["completion_tokens"]
            if isinstance(pt, int) and isinstance(ct, int):
                usage["total_tokens"] = pt + ct
    response["usage"] = usage
    return response


def _extras(row: dict[str, Any], metadata: dict[str, Any]) -> dict[str, Any]:
    """Provenance kept under ``litellm`` (ignored by readers of the core fields)."""
    extras: dict[str, Any] = {}
    for name in ("call_type", "model", "model_id", "model_group", "custom_llm_provider",
                 "api_base", "organization_id", "session_id", "cache_hit", "status"):
        value = nonempty_str(_cell(row, name))
        if value is not None:
            extras[name] = value
    spend = _cell(row, "spend")
    try:
        if spend is not None and not isinstance(spend, bool):
            number = float(spend)
            if math.isfinite(number):
                extras["spend"] = number
    except (TypeError, ValueError):
        pass
    tags = _cell(row, "request_tags")
    if isinstance(tags, str):
        try:
            tags = loads(tags)
        except ValueError:
            tags = None
    if isinstance(tags, list) and tags:
        extras["request_tags"] = [t for t in tags if isinstance(t, str)]
    info = metadata.get("error_information")
    if isinstance(info, dict):
        error = {k: info[k] for k in ("error_code", "error_class", "llm_provider")
                 if isinstance(info.get(k), str) and info[k]}
        if error:
            extras["error"] = error
    alias = nonempty_str(metadata.get("user_api_key_alias"))
    if alias:
        extras["key_alias"] = alias
    return extras
