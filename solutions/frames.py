"""Reference solution: an upload protocol with JSON metadata and binary payloads.

One correct answer among many: the grader checks behaviour, so any encoding of
the announcement (compact or not, ASCII-escaped or not) and any way of keeping
the receiver's state pass, as long as the payload travels as bytes and every
bad frame is refused with the right code and nothing of it delivered.

The receiver is a two-state machine: waiting for an announcement (``pending``
is None), or waiting for the payload it announced (``pending`` holds its meta
and size). Checks run in the order of RFC 6455's codes: size (1009) before the
frame type (1003) before the content (1007), the way a WebSocket library
checks ``max_size`` before the application sees a frame at all.
"""

from __future__ import annotations

import json
from typing import Any

MAX_SIZE = 1024 * 1024  # bytes, like websockets' default max_size (1 MiB)

Frame = str | bytes
Action = tuple[Any, ...]

TOO_BIG, UNSUPPORTED, INVALID = 1009, 1003, 1007


def encode_upload(meta: dict[str, Any], payload: bytes) -> list[Frame]:
    announcement = json.dumps({"size": len(payload), "meta": meta})
    return [announcement, bytes(payload)]


class Receiver:
    """The upload protocol on the server side, for one connection (sans-I/O)."""

    def __init__(self, max_size: int = MAX_SIZE) -> None:
        self.max_size = max_size
        self.pending: tuple[dict[str, Any], int] | None = None  # (meta, size) announced

    def receive(self, frame: Frame) -> list[Action]:
        if isinstance(frame, bytes):
            return self._payload(frame)
        return self._announcement(frame)

    def _announcement(self, text: str) -> list[Action]:
        try:
            data = text.encode("utf-8")  # lone surrogates are not UTF-8: they raise
        except UnicodeEncodeError:
            return close(INVALID, "text frame is not valid UTF-8")
        if len(data) > self.max_size:
            return close(TOO_BIG, f"text frame of {len(data)} bytes; limit {self.max_size}")
        if self.pending is not None:
            return close(UNSUPPORTED, "expected the announced binary payload, got text")
        try:
            # Re-encoding the parsed value catches "\ud83d" escapes, valid JSON
            # that makes strings no UTF-8 encoder accepts.
            message = json.loads(text)
            json.dumps(message, ensure_ascii=False).encode("utf-8")
        except (ValueError, UnicodeEncodeError):  # JSONDecodeError is a ValueError
            return close(INVALID, "announcement is not valid JSON text")
        except RecursionError:  # "[[[[...": 2 KB of brackets outruns Python's stack
            return close(INVALID, "announcement nests too deep")
        if not isinstance(message, dict):
            return close(INVALID, "announcement is not a JSON object")
        size, meta = message.get("size"), message.get("meta")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            return close(INVALID, "announcement needs an int size >= 0")
        if not isinstance(meta, dict):
            return close(INVALID, "announcement needs a meta object")
        if size > self.max_size:
            return close(TOO_BIG, f"announced {size} bytes; limit {self.max_size}")
        self.pending = (meta, size)
        return []

    def _payload(self, payload: bytes) -> list[Action]:
        if len(payload) > self.max_size:
            return close(TOO_BIG, f"binary frame of {len(payload)} bytes; limit {self.max_size}")
        if self.pending is None:
            return close(UNSUPPORTED, "binary frame without an announcement")
        meta, size = self.pending
        if len(payload) != size:
            return close(INVALID, f"payload of {len(payload)} bytes; {size} were announced")
        self.pending = None
        return [("deliver", meta, payload)]


def close(code: int, reason: str) -> list[Action]:
    return [("close", code, reason)]
