"""Known good: a dataclass for the pending upload and a match statement on the frame.

Differs from the reference: returns a tuple of frames from encode_upload,
validates the whole text by re-encoding it with errors="strict" up front, and
keeps the expected payload as an Optional dataclass.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


def encode_upload(meta: dict[str, Any], payload: bytes) -> tuple[str, bytes]:
    return json.dumps({"size": len(payload), "meta": meta}, indent=None), payload


@dataclass
class Pending:
    meta: dict[str, Any]
    size: int


class Receiver:
    def __init__(self, max_size: int = 1024 * 1024) -> None:
        self.max_size = max_size
        self.pending: Pending | None = None

    def receive(self, frame: str | bytes) -> list[tuple]:
        match frame:
            case bytes() if len(frame) > self.max_size:
                return [("close", 1009, "payload too big")]
            case bytes() if self.pending is None:
                return [("close", 1003, "unexpected binary")]
            case bytes():
                pending, self.pending = self.pending, None
                if len(frame) != pending.size:
                    return [("close", 1007, "size mismatch")]
                return [("deliver", pending.meta, frame)]
            case str():
                return self._text(frame)
        return [("close", 1003, "unknown frame")]

    def _text(self, text: str) -> list[tuple]:
        raw = text.encode("utf-8", "surrogatepass")
        if len(raw) > self.max_size:
            return [("close", 1009, "text too big")]
        if self.pending is not None:
            return [("close", 1003, "expected binary")]
        try:
            raw.decode("utf-8")  # strict: surrogates written raw are refused here
            obj = json.loads(text)
            json.dumps(obj, ensure_ascii=False).encode("utf-8")  # and escaped ones here
        except (UnicodeError, ValueError, RecursionError):
            return [("close", 1007, "bad text")]
        match obj:
            case {"size": int(size), "meta": dict(meta)} if type(size) is int and size >= 0:
                if size > self.max_size:
                    return [("close", 1009, "announced too big")]
                self.pending = Pending(meta, size)
                return []
        return [("close", 1007, "bad announcement")]
