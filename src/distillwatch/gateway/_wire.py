"""The framing between the gateway and its scorer process: length-prefixed typed frames.

Each frame is a 4-byte big-endian payload length, one kind byte, then the payload. Records
travel as the traffic-log lines the gateway already serialised (JSON lines, many per frame);
everything else is one JSON document per frame.
"""

from __future__ import annotations

import struct
from typing import Final

__all__ = ["FrameBuffer", "Kind", "encode_frame"]

_HEADER: Final = struct.Struct(">IB")
_MAX_FRAME: Final = 1 << 30


class Kind:
    """Frame kinds. Gateway to scorer: CONFIG, RECORDS, LADDER, SAVE, QUIT. Scorer to
    gateway: HELLO, UPDATES, ALERTS, STATS, SAVED."""

    CONFIG = ord("C")
    RECORDS = ord("R")
    LADDER = ord("L")
    SAVE = ord("S")
    QUIT = ord("Q")
    HELLO = ord("H")
    UPDATES = ord("U")
    ALERTS = ord("A")
    STATS = ord("T")
    SAVED = ord("K")


def encode_frame(kind: int, payload: bytes = b"") -> bytes:
    """One frame, ready to write."""
    return _HEADER.pack(len(payload), kind) + payload


class FrameBuffer:
    """Bytes in (as they arrive, split anywhere), whole frames out."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def __len__(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> None:
        """Append bytes read from the other side."""
        self._buf += data

    def take(self) -> bytes:
        """The bytes held (a frame not yet complete), emptying the buffer."""
        out = bytes(self._buf)
        self._buf.clear()
        return out

    def frames(self) -> list[tuple[int, bytes]]:
        """Every complete frame received so far, in order, as ``(kind, payload)``."""
        buf = self._buf
        out: list[tuple[int, bytes]] = []
        start = 0
        end = len(buf)
        while end - start >= _HEADER.size:
            size, kind = _HEADER.unpack_from(buf, start)
            if size > _MAX_FRAME:
                raise ValueError(f"scorer frame of {size} bytes: the stream is corrupt")
            stop = start + _HEADER.size + size
            if stop > end:
                break
            out.append((kind, bytes(buf[start + _HEADER.size:stop])))
            start = stop
        del buf[:start]
        return out
