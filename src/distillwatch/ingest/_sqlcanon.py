"""The fast path of the traffic-log reader: JSON lines -> canonical columns inside DuckDB.

``canonical_row`` (Python, one ``orjson`` object per line) stays the reference. ``CANONICAL_SQL``
computes the same columns with DuckDB's C++ JSON functions over a whole column of lines, and a
line's row is used only when the fast path can prove it equals the reference's:

- the line is strict JSON as ``orjson`` reads it: DuckDB's lenient reader also takes NaN and
  Infinity literals, trailing commas and overflowing numbers, so text that could hold one
  (``GATE_PATTERNS``, matched even inside strings) goes to Python;
- no object that is read holds a key twice (DuckDB keeps the first value, ``orjson`` the last);
- every field read has a JSON type that the reference accepts and treats simply
  (``shape_ok``, a Python predicate over the line's JSON types at ``TYPE_PATHS``; shapes repeat,
  so it runs once per distinct shape): for example ``stream`` is a boolean or null, a message
  ``content`` a string, null or ``PARTS`` text part, and there are at most ``MESSAGES``
  messages and ``CHOICES`` choices;
- a few values pass checks SQL does per row (``ok`` in the query): ``ts`` has the common
  RFC 3339 shape, the status is 100-599, numbers read as floats are below 2**63, and a
  ``key_id`` is plain ASCII that the secret pattern does not match.

Every other line (a bad line, or a valid but unusual one) goes through the Python reader, which
also produces the file/line/field messages. The SQL takes no data, only the ``_lines`` table.
"""

from __future__ import annotations

from collections.abc import Sequence

from distillwatch.ingest._secrets import SECRET_PATTERN

__all__ = ["CANONICAL_SQL", "CHOICES", "GATE_PATTERNS", "MESSAGES", "PARTS", "TYPE_PATHS",
           "shape_ok"]

#: Messages, content parts per message and choices that the SQL path reads (more: Python).
MESSAGES = 8
PARTS = 1
CHOICES = 2

#: Text that DuckDB's lenient JSON reader accepts but ``orjson`` rejects: trailing commas,
#: escaped surrogates (a lone one is an error), NaN/Infinity literals and numbers that overflow
#: a double. RE2 finds the first two quickly by their leading literal.
GATE_PATTERNS = (
    r",\s*[}\]]",
    r"\\u[dD][89a-fA-F]",
    r"[:\[,]\s*-?(?:(?i:nan|inf)|[0-9]*\.?[0-9]*[eE][-+]?[0-9]{3}|[0-9]{309})",
)

_TS_PATTERN = (
    r"[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    r"(\.[0-9]{1,6})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"
)

_MSG = "$.request.messages"
_CH = "$.response.choices"
_USAGE = "$.response.usage"

_NUMBER = frozenset(("UBIGINT", "BIGINT", "DOUBLE"))
_INT = frozenset(("UBIGINT", "BIGINT"))
_ABSENT = frozenset((None, "NULL"))  # json_type: NULL when the path is absent, 'NULL' for null
_STR = _ABSENT | {"VARCHAR"}
_NUM = _ABSENT | _NUMBER
_OBJ = _ABSENT | {"OBJECT"}


def _content_paths(base: str) -> list[str]:
    out = [base, f"{base}[{PARTS}]"]
    for j in range(PARTS):
        out += [f"{base}[{j}]", f"{base}[{j}].text"]
    return out


def _message_paths(i: int) -> list[str]:
    base = f"{_MSG}[{i}]"
    return [base, base + ".role", *_content_paths(base + ".content")]


def _choice_paths(c: int) -> list[str]:
    base = f"{_CH}[{c}]"
    return [base, base + ".finish_reason", base + ".text", base + ".logprobs",
            base + ".message", base + ".message.reasoning_content",
            base + ".message.reasoning", *_content_paths(base + ".message.content")]


_REQUEST_KEYS = ("model", "temperature", "top_p", "n", "max_tokens", "max_completion_tokens",
                 "max_output_tokens", "top_logprobs", "seed", "logit_bias", "logprobs",
                 "stream", "reasoning_effort", "reasoning", "reasoning.effort", "tools",
                 "user", "messages", "input", "prompt", "instructions")
_USAGE_KEYS = ("prompt_tokens", "input_tokens", "completion_tokens", "output_tokens",
               "completion_tokens_details", "completion_tokens_details.reasoning_tokens",
               "output_tokens_details", "output_tokens_details.reasoning_tokens")

#: Paths whose JSON type ``shape_ok`` checks (one ``json_type`` call reads them all).
TYPE_PATHS: tuple[str, ...] = (
    "$.ts", "$.request_id", "$.account_id", "$.endpoint", "$.key_id", "$.user", "$.client_ip",
    "$.user_agent", "$.status", "$.latency_ms", "$.request", "$.response",
    *(f"$.request.{key}" for key in _REQUEST_KEYS),
    f"{_MSG}[{MESSAGES}]",
    *(p for i in range(MESSAGES) for p in _message_paths(i)),
    _CH, "$.response.output_text", f"{_CH}[{CHOICES}]",
    *(p for c in range(CHOICES) for p in _choice_paths(c)),
    _USAGE, *(f"{_USAGE}.{key}" for key in _USAGE_KEYS),
)
_T = {path: i for i, path in enumerate(TYPE_PATHS)}

#: Objects whose keys are read: none may hold a key twice, and some key lists are used.
KEY_PATHS: tuple[str, ...] = (
    "$", "$.request", "$.response", _USAGE, f"{_USAGE}.completion_tokens_details",
    f"{_USAGE}.output_tokens_details", "$.request.reasoning", "$.request.logit_bias",
    *(p for i in range(MESSAGES)
      for p in (f"{_MSG}[{i}]", *(f"{_MSG}[{i}].content[{j}]" for j in range(PARTS)))),
    *(p for c in range(CHOICES)
      for p in (f"{_CH}[{c}]", f"{_CH}[{c}].message", f"{_CH}[{c}].logprobs",
                *(f"{_CH}[{c}].message.content[{j}]" for j in range(PARTS)))),
)


def _content_ok(types: Sequence[str | None], base: str) -> bool:
    """A content the SQL reads as the reference does: null, a string, or text parts."""
    kind = types[_T[base]]
    if kind in _STR:
        return True
    if kind != "ARRAY" or types[_T[f"{base}[{PARTS}]"]] is not None:
        return False
    for j in range(PARTS):
        part = types[_T[f"{base}[{j}]"]]
        if part is not None and (part != "OBJECT" or types[_T[f"{base}[{j}].text"]] not in _STR):
            return False
    return True


def _request_ok(types: Sequence[str | None]) -> bool:
    def at(key: str) -> str | None:
        return types[_T[f"$.request.{key}"]]

    if types[_T["$.request"]] != "OBJECT" or at("model") not in _STR:
        return False
    if any(at(key) not in _NUM for key in ("temperature", "top_p", "n", "max_tokens",
                                            "max_completion_tokens", "max_output_tokens",
                                            "top_logprobs", "seed")):
        return False
    if (at("logit_bias") not in _OBJ or at("logprobs") not in _ABSENT | _INT | {"BOOLEAN"}
            or at("stream") not in _ABSENT | {"BOOLEAN"} or at("reasoning_effort") not in _STR
            or at("reasoning") not in _OBJ or at("reasoning.effort") not in _STR):
        return False
    messages = at("messages")
    if messages is None:  # a completions `prompt` or responses `input` string
        return all(at(key) in _STR for key in ("input", "prompt", "instructions"))
    if messages != "ARRAY" or types[_T[f"{_MSG}[{MESSAGES}]"]] is not None:
        return False
    for i in range(MESSAGES):
        base = f"{_MSG}[{i}]"
        kind = types[_T[base]]
        if kind is None:
            break
        if (kind != "OBJECT" or types[_T[base + ".role"]] != "VARCHAR"
                or not _content_ok(types, base + ".content")):
            return False
    return True


def _response_ok(types: Sequence[str | None]) -> bool:
    response = types[_T["$.response"]]
    if response == "NULL":
        return True
    if response != "OBJECT" or types[_T[_CH]] not in _ABSENT | {"ARRAY"}:
        return False
    if types[_T["$.response.output_text"]] not in _STR or types[_T[f"{_CH}[{CHOICES}]"]]:
        return False
    for c in range(CHOICES):
        base = f"{_CH}[{c}]"
        kind = types[_T[base]]
        if kind is None:
            break
        message = types[_T[base + ".message"]]
        if (kind != "OBJECT" or message not in _OBJ
                or types[_T[base + ".finish_reason"]] not in _STR
                or types[_T[base + ".text"]] not in _STR
                or types[_T[base + ".logprobs"]] not in _OBJ):
            return False
        if message == "OBJECT" and not (
                _content_ok(types, base + ".message.content")
                and types[_T[base + ".message.reasoning_content"]] in _STR
                and types[_T[base + ".message.reasoning"]] in _STR):
            return False
    if types[_T[_USAGE]] not in _OBJ:
        return False
    return all(types[_T[f"{_USAGE}.{key}"]] in
               (_OBJ if key.endswith("details") else _NUM) for key in _USAGE_KEYS)


def shape_ok(types: Sequence[str | None]) -> bool:
    """True when every field read has a JSON type the SQL reads exactly as the reference."""
    if types[_T["$.ts"]] != "VARCHAR" or types[_T["$.status"]] not in _INT:
        return False
    if any(types[_T[key]] != "VARCHAR" for key in ("$.request_id", "$.account_id",
                                                     "$.endpoint")):
        return False
    if any(types[_T[key]] not in _STR for key in ("$.key_id", "$.user", "$.client_ip",
                                                   "$.user_agent")):
        return False
    if types[_T["$.latency_ms"]] not in _NUM:
        return False
    return _request_ok(types) and _response_ok(types)


# -- the query -------------------------------------------------------------------------------

_CONTENT = '"content":"VARCHAR"'
_STRUCTURE = (
    '{"ts":"VARCHAR","request_id":"VARCHAR","account_id":"VARCHAR","key_id":"VARCHAR",'
    '"user":"VARCHAR","client_ip":"VARCHAR","user_agent":"VARCHAR","endpoint":"VARCHAR",'
    '"status":"DOUBLE","latency_ms":"DOUBLE",'
    '"request":{"model":"VARCHAR","messages":[{"role":"VARCHAR",' + _CONTENT + '}],'
    '"temperature":"DOUBLE","top_p":"DOUBLE","n":"DOUBLE","max_tokens":"DOUBLE",'
    '"max_completion_tokens":"DOUBLE","max_output_tokens":"DOUBLE","logprobs":"VARCHAR",'
    '"top_logprobs":"DOUBLE","stream":"BOOLEAN","reasoning_effort":"VARCHAR",'
    '"reasoning":{"effort":"VARCHAR"},"tools":["BOOLEAN"],"user":"VARCHAR",'
    '"prompt":"VARCHAR","input":"VARCHAR","instructions":"VARCHAR"},'
    '"response":{"choices":[{"finish_reason":"VARCHAR","text":"VARCHAR",'
    '"message":{' + _CONTENT + ',"reasoning_content":"VARCHAR","reasoning":"VARCHAR"}}],'
    '"output_text":"VARCHAR","usage":{"prompt_tokens":"DOUBLE","input_tokens":"DOUBLE",'
    '"completion_tokens":"DOUBLE","output_tokens":"DOUBLE",'
    '"completion_tokens_details":{"reasoning_tokens":"DOUBLE"},'
    '"output_tokens_details":{"reasoning_tokens":"DOUBLE"}}}}'
)

_NUM_SQL = "('UBIGINT', 'BIGINT', 'DOUBLE')"
_INT32 = 2**31 - 1
_BIG = 2.0**63


def _t(path: str) -> str:
    return f"t[{_T[path] + 1}]"


def _k(path: str) -> str:
    return f"k[{KEY_PATHS.index(path) + 1}]"


def _t_at(paths: list[str], index: str) -> str:
    """``t[...]`` of the ``index``-th (an SQL expression, 0-based) of evenly spaced paths."""
    first, second = _T[paths[0]] + 1, _T[paths[1]] + 1
    return f"t[{first} + ({index}) * {second - first}]"


def _as_int(path: str, value: str) -> str:
    """The reference's ``_int``: a number within +-(2**31 - 1), truncated; else NULL."""
    return (f"CASE WHEN {_t(path)} IN {_NUM_SQL} AND abs({value}) <= {_INT32} "
            f"THEN CAST(trunc({value}) AS BIGINT) END")


def _as_num(path: str, value: str) -> str:
    return f"CASE WHEN {_t(path)} IN {_NUM_SQL} THEN {value} END"


def _content_text(kind: str, value: str) -> str:
    """``content_text``: a string, the text parts joined by newlines, else ''."""
    parts = (f"array_to_string(list_filter(list_transform(TRY(from_json({value}, "
             "'[{\"text\":\"VARCHAR\"}]')), lambda p: p.text), lambda x: x IS NOT NULL), "
             "chr(10))")
    return f"CASE {kind} WHEN 'VARCHAR' THEN {value} WHEN 'ARRAY' THEN {parts} ELSE '' END"


def _paths_sql(fn: str, paths: Sequence[str]) -> str:
    quoted = ", ".join("'" + p.replace("'", "''") + "'" for p in paths)
    return f"TRY({fn}(l, [{quoted}]))"


def _value_checks() -> list[str]:
    """Per-row checks of values (types are ``shape_ok``'s): true when SQL reads them exactly."""
    floats = ("j.latency_ms", "j.request.temperature", "j.request.top_p")
    checks = [
        "j IS NOT NULL AND t IS NOT NULL AND k IS NOT NULL",
        f"regexp_full_match(j.ts, '{_TS_PATTERN}')",
        "TRY_CAST(j.ts AS TIMESTAMPTZ) IS NOT NULL",
        "j.request_id <> '' AND j.account_id <> '' AND j.endpoint <> ''",
        "j.status BETWEEN 100 AND 599",
        *(f"coalesce(abs({v}) < {_BIG}, true)" for v in floats),
        "(j.key_id IS NULL OR (regexp_full_match(j.key_id, '[!-~]*') "
        f"AND NOT regexp_matches(j.key_id, '{SECRET_PATTERN}')))",
        f"(coalesce({_t('$.request.logprobs')} NOT IN ('UBIGINT', 'BIGINT'), true) "
        f"OR abs(TRY_CAST(j.request.logprobs AS DOUBLE)) <= {_INT32})",
        "list_bool_and(list_transform(k, lambda x: x IS NULL OR len(x) = len(list_distinct(x))))",
    ]
    return [f"coalesce({c}, false)" for c in checks]


def _columns() -> dict[str, str]:
    rq = "j.request"
    sys_roles = "('system', 'developer')"
    is_msgs = f"{_t('$.request.messages')} = 'ARRAY'"
    single = (f"CASE WHEN {_t('$.request.input')} = 'VARCHAR' THEN {rq}.input "
              f"WHEN {_t('$.request.prompt')} = 'VARCHAR' THEN {rq}.prompt END")
    instructions = (f"CASE WHEN {_t('$.request.instructions')} = 'VARCHAR' "
                    f"THEN {rq}.instructions ELSE '' END")

    def count(roles: str, single_turn: int) -> str:
        return (f"CASE WHEN {is_msgs} THEN len(list_filter(ml, lambda m: m.r IN {roles})) "
                f"WHEN {single} IS NOT NULL THEN {single_turn} ELSE 0 END")

    def usage_int(first: str, second: str) -> str:
        return (f"CASE WHEN list_contains({_k(_USAGE)}, '{first}') "
                f"THEN {_as_int(f'{_USAGE}.{first}', f'j.response.usage.{first}')} "
                f"ELSE {_as_int(f'{_USAGE}.{second}', f'j.response.usage.{second}')} END")

    ctd, otd = f"{_USAGE}.completion_tokens_details", f"{_USAGE}.output_tokens_details"
    reasoning_tokens = (
        f"CASE WHEN {_t(ctd)} = 'OBJECT' AND len({_k(ctd)}) > 0 THEN "
        f"{_as_int(ctd + '.reasoning_tokens', 'j.response.usage.completion_tokens_details.reasoning_tokens')} "  # noqa: E501
        f"WHEN {_t(otd)} = 'OBJECT' THEN "
        f"{_as_int(otd + '.reasoning_tokens', 'j.response.usage.output_tokens_details.reasoning_tokens')} "  # noqa: E501
        "END")
    mct = f"list_contains({_k('$.request')}, 'max_completion_tokens')"
    mt = _t("$.request.max_tokens")
    max_tokens = (
        f"CASE WHEN {mt} IN {_NUM_SQL} THEN {_as_int('$.request.max_tokens', rq + '.max_tokens')} "
        f"WHEN {mct} THEN "
        f"{_as_int('$.request.max_completion_tokens', rq + '.max_completion_tokens')} "
        f"ELSE {_as_int('$.request.max_output_tokens', rq + '.max_output_tokens')} END")
    lp_int = f"{_t('$.request.logprobs')} IN ('UBIGINT', 'BIGINT')"
    top_lp = _as_int("$.request.top_logprobs", rq + ".top_logprobs")
    choices = _t(_CH)
    output_text = _t("$.response.output_text")
    return {
        "request_id": "j.request_id",
        "account_id": "j.account_id",
        "ts": "TRY_CAST(j.ts AS TIMESTAMPTZ)",
        "key_id": "j.key_id",
        "end_user": (f"CASE WHEN {_t('$.user')} = 'VARCHAR' THEN j.user "
                     f"WHEN {_t('$.request.user')} = 'VARCHAR' THEN {rq}.user END"),
        "client_ip": "j.client_ip",
        "user_agent": "j.user_agent",
        "endpoint": "j.endpoint",
        "status": "TRY_CAST(j.status AS INTEGER)",
        "latency_ms": _as_num("$.latency_ms", "j.latency_ms"),
        "model": f"{rq}.model",
        "n_messages": (f"CASE WHEN {is_msgs} THEN len(ml) WHEN {single} IS NOT NULL "
                       "THEN 1 ELSE 0 END"),
        "n_user_turns": count("('user')", 1),
        "n_assistant_turns": count("('assistant')", 0),
        "n_tool_messages": count("('tool', 'function')", 0),
        "n_tools": (f"CASE WHEN {_t('$.request.tools')} = 'ARRAY' THEN len({rq}.tools) "
                    "ELSE 0 END"),
        "temperature": _as_num("$.request.temperature", rq + ".temperature"),
        "top_p": _as_num("$.request.top_p", rq + ".top_p"),
        "n": _as_int("$.request.n", rq + ".n"),
        "max_tokens": max_tokens,
        "logprobs": f"coalesce({lp_int}, false) OR coalesce({rq}.logprobs = 'true', false)",
        "top_logprobs": (f"CASE WHEN {lp_int} THEN coalesce({top_lp}, "
                         f"TRY_CAST({rq}.logprobs AS BIGINT)) ELSE {top_lp} END"),
        "logit_bias_size": (f"CASE WHEN {_t('$.request.logit_bias')} = 'OBJECT' "
                            f"THEN len({_k('$.request.logit_bias')}) ELSE 0 END"),
        "seed_set": f"coalesce({_t('$.request.seed')} IN {_NUM_SQL}, false)",
        "stream": f"coalesce({rq}.stream, false)",
        "reasoning_effort": (f"CASE WHEN {_t('$.request.reasoning_effort')} = 'VARCHAR' "
                             f"THEN {rq}.reasoning_effort ELSE {rq}.reasoning.effort END"),
        "param_keys": f"array_to_string({_k('$.request')}, ',')",
        "finish_reason": (f"CASE WHEN {choices} = 'ARRAY' "
                          "THEN list_filter(cl, lambda c: c.f IS NOT NULL)[1].f END"),
        "n_choices": (f"CASE WHEN {choices} = 'ARRAY' THEN len(j.response.choices) "
                      f"WHEN {output_text} = 'VARCHAR' THEN 1 ELSE 0 END"),
        "prompt_tokens": usage_int("prompt_tokens", "input_tokens"),
        "completion_tokens": usage_int("completion_tokens", "output_tokens"),
        "reasoning_tokens": reasoning_tokens,
        "response_logprobs": "coalesce(list_bool_or(list_transform(cl, lambda c: c.lp)), false)",
        "reasoning_chars": "coalesce(list_sum(list_transform(cl, lambda c: c.rc)), 0)",
        "system_text": (f"CASE WHEN {is_msgs} THEN array_to_string(list_transform(list_filter("
                        f"ml, lambda m: m.r IN {sys_roles}), lambda m: m.x), chr(10)) "
                        f"ELSE {instructions} END"),
        "user_text": (f"CASE WHEN {is_msgs} THEN "
                      "coalesce(list_filter(ml, lambda m: m.i = lu)[1].x, '') "
                      f"ELSE coalesce({single}, '') END"),
        "history_text": (f"CASE WHEN {is_msgs} THEN array_to_string(list_transform(list_filter("
                         f"ml, lambda m: m.r NOT IN {sys_roles} AND m.i <> lu AND m.x <> ''), "
                         "lambda m: m.x), chr(10)) ELSE '' END"),
        "response_text": (f"CASE WHEN {choices} = 'ARRAY' "
                          "THEN coalesce(list_filter(cl, lambda c: c.x IS NOT NULL)[1].x, '') "
                          f"WHEN {output_text} = 'VARCHAR' THEN j.response.output_text "
                          "ELSE '' END"),
        "line": "line",
    }


def _message_list() -> str:
    kind = _t_at([f"{_MSG}[{i}].content" for i in range(2)], "i - 1")
    return ("list_transform(j.request.messages, lambda m, i: struct_pack(r := m.role, i := i, "
            f"x := {_content_text(kind, 'm.content')}))")


def _choice_list() -> str:
    def at(suffix: str) -> str:
        return _t_at([f"{_CH}[{c}]{suffix}" for c in range(2)], "i - 1")

    lp_first = KEY_PATHS.index(f"{_CH}[0].logprobs") + 1
    lp_stride = KEY_PATHS.index(f"{_CH}[1].logprobs") + 1 - lp_first
    lp_keys = f"k[{lp_first} + (i - 1) * {lp_stride}]"
    return (
        "list_transform(j.response.choices, lambda c, i: struct_pack("
        f"x := CASE WHEN {at('.message')} = 'OBJECT' THEN "
        f"{_content_text(at('.message.content'), 'c.message.content')} "
        f"WHEN {at('.text')} = 'VARCHAR' THEN c.text END, "
        "f := c.finish_reason, "
        f"lp := {at('.logprobs')} = 'OBJECT' AND len({lp_keys}) > 0, "
        f"rc := CASE WHEN {at('.message')} = 'OBJECT' THEN length(CASE WHEN "
        "c.message.reasoning_content <> '' THEN c.message.reasoning_content "
        "ELSE c.message.reasoning END) END))")


def _query() -> str:
    last_user = ("coalesce(len(ml) + 1 - list_position(list_reverse(list_transform(ml, "
                 "lambda m: m.r)), 'user'), 0)")
    select = ",\n  ".join(f"{name} := {expr}" for name, expr in _columns().items())
    return (
        f"WITH p AS (SELECT line, TRY(from_json(l, '{_STRUCTURE}')) AS j, "
        f"{_paths_sql('json_type', TYPE_PATHS)} AS t, {_paths_sql('json_keys', KEY_PATHS)} AS k "
        "FROM _lines),\n"
        f"v AS (SELECT *, {' AND '.join(_value_checks())} AS ok FROM p),\n"
        f"w AS (SELECT *, CASE WHEN ok THEN {_message_list()} END AS ml, "
        f"CASE WHEN ok THEN {_choice_list()} END AS cl FROM v),\n"
        f"x AS (SELECT *, {last_user} AS lu FROM w)\n"
        "SELECT line, ok, CAST(list_transform(t, lambda x: coalesce(x, '-')) AS VARCHAR) "
        "AS shape, "
        f"CASE WHEN ok THEN struct_pack(\n  {select}) END AS row FROM x"
    )


#: One SELECT over ``_lines(l VARCHAR, line BIGINT)``: ``ok`` (the per-row value checks),
#: ``shape`` (the JSON types at ``TYPE_PATHS`` as text, for ``shape_ok``) and ``row`` (the
#: canonical columns without ``source``, NULL when not ``ok``).
CANONICAL_SQL = _query()
