"""Server-sent events: split a byte stream into events, and assemble a stream's final object.

The proxy forwards upstream bytes untouched; this module only reads along, so the traffic log
gets the assembled response (``choices[].message.content`` and friends) that the stream
delivered.
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["SSEParser", "StreamAssembler", "encode_event"]


def encode_event(obj: dict[str, Any]) -> bytes:
    """One ``data:`` event as sent by OpenAI-compatible servers."""
    return b"data: " + orjson.dumps(obj) + b"\n\n"


class SSEParser:
    """Incremental parser: feed bytes, get complete events as ``(raw_bytes, data)``."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[tuple[bytes, bytes | None]]:
        """Complete events in ``chunk`` (plus what was buffered): raw bytes and joined data."""
        buffer = self._buffer + chunk if self._buffer else chunk
        if b"\r" in buffer:
            buffer = buffer.replace(b"\r\n", b"\n")
        events: list[tuple[bytes, bytes | None]] = []
        start = 0
        while True:
            end = buffer.find(b"\n\n", start)
            if end < 0:
                break
            raw = buffer[start:end + 2]
            events.append((raw, _data_of(raw)))
            start = end + 2
        self._buffer = buffer[start:]
        return events

    @property
    def pending(self) -> bytes:
        """Bytes of an event not yet terminated (a broken stream leaves them here)."""
        return self._buffer


def _data_of(raw: bytes) -> bytes | None:
    data: list[bytes] = []
    for line in raw.split(b"\n"):
        if line.startswith(b"data:"):
            value = line[5:]
            data.append(value[1:] if value.startswith(b" ") else value)
    return b"\n".join(data) if data else None


class StreamAssembler:
    """Fold chat/completions chunks (or a Responses API stream) into one response object."""

    def __init__(self) -> None:
        self._head: dict[str, Any] = {}
        self._choices: dict[int, dict[str, Any]] = {}
        self._usage: Any = None
        self._final: dict[str, Any] | None = None
        self.done = False
        self.events = 0

    def add(self, data: bytes) -> dict[str, Any] | None:
        """Fold one event's data; returns the decoded object (None for ``[DONE]`` or junk)."""
        if data.strip() == b"[DONE]":
            self.done = True
            return None
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(obj, dict):
            return None
        self.events += 1
        self.fold(obj)
        return obj

    def fold(self, obj: dict[str, Any]) -> None:
        """Fold one decoded chunk."""
        if isinstance(obj.get("response"), dict) and str(obj.get("type", "")).startswith(
                "response."):
            self._final = obj["response"]  # Responses API: the last snapshot is complete
            return
        for key in ("id", "created", "model", "system_fingerprint"):
            if key in obj and key not in self._head:
                self._head[key] = obj[key]
        if obj.get("usage"):
            self._usage = obj["usage"]
        for choice in obj.get("choices") or ():
            if isinstance(choice, dict):
                self._fold_choice(choice)

    def _fold_choice(self, choice: dict[str, Any]) -> None:
        index = choice.get("index", 0)
        slot = self._choices.setdefault(index if isinstance(index, int) else 0, {
            "index": index, "content": [], "reasoning": [], "text": [], "logprobs": [],
            "finish_reason": None, "role": None, "tool_calls": None,
        })
        delta = choice.get("delta")
        if isinstance(delta, dict):
            if isinstance(delta.get("content"), str):
                slot["content"].append(delta["content"])
            for key in ("reasoning_content", "reasoning"):
                if isinstance(delta.get(key), str):
                    slot["reasoning"].append(delta[key])
            if delta.get("role"):
                slot["role"] = delta["role"]
            if delta.get("tool_calls"):
                slot["tool_calls"] = (slot["tool_calls"] or []) + list(delta["tool_calls"])
        if isinstance(choice.get("text"), str):
            slot["text"].append(choice["text"])
        logprobs = choice.get("logprobs")
        if isinstance(logprobs, dict) and isinstance(logprobs.get("content"), list):
            slot["logprobs"].extend(logprobs["content"])
        if choice.get("finish_reason"):
            slot["finish_reason"] = choice["finish_reason"]

    def choice_indexes(self) -> list[int]:
        """Indexes of the choices seen so far."""
        return sorted(self._choices)

    def head(self) -> dict[str, Any]:
        """``id``, ``created``, ``model`` of the stream (to build an extra chunk)."""
        return dict(self._head)

    def text_of(self, index: int) -> str:
        """The content streamed so far for one choice."""
        slot = self._choices.get(index)
        return "" if slot is None else "".join(slot["content"] or slot["text"])

    def result(self) -> dict[str, Any]:
        """The assembled response, shaped like the non-streamed one."""
        if self._final is not None:
            return self._final
        choices = []
        for index in sorted(self._choices):
            slot = self._choices[index]
            if slot["text"] and not slot["content"]:
                choice: dict[str, Any] = {"index": index, "text": "".join(slot["text"])}
            else:
                message: dict[str, Any] = {"role": slot["role"] or "assistant",
                                           "content": "".join(slot["content"])}
                if slot["reasoning"]:
                    message["reasoning_content"] = "".join(slot["reasoning"])
                if slot["tool_calls"]:
                    message["tool_calls"] = slot["tool_calls"]
                choice = {"index": index, "message": message}
            choice["finish_reason"] = slot["finish_reason"]
            if slot["logprobs"]:
                choice["logprobs"] = {"content": slot["logprobs"]}
            choices.append(choice)
        out = {**self._head, "choices": choices}
        if self._usage is not None:
            out["usage"] = self._usage
        return out
