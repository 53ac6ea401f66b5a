"""Known bad: the receiver keeps its state on the class, shared by every connection.

A mutable class attribute: every Receiver sees the same dict. One client's
announcement becomes everybody's; a payload lands on the wrong connection and
a good client gets closed. With one connection at a time, it looks fine.
"""

import json

from solutions.frames import encode_upload  # noqa: F401

EXPECTED = {"websocket-message-limits"}
MESSAGE = "is state shared between receivers?"


class Receiver:
    state = {}  # noqa: RUF012  BUG: one dict for all instances

    def __init__(self, max_size=2**20):
        self.max_size = max_size

    def receive(self, frame):
        if isinstance(frame, bytes):
            if len(frame) > self.max_size:
                return [("close", 1009, "too big")]
            if "meta" not in self.state:
                return [("close", 1003, "unexpected binary frame")]
            meta, size = self.state.pop("meta"), self.state.pop("size")
            if len(frame) != size:
                return [("close", 1007, "wrong length")]
            return [("deliver", meta, frame)]
        try:
            data = frame.encode()
        except UnicodeEncodeError:
            return [("close", 1007, "bad UTF-8")]
        if len(data) > self.max_size:
            return [("close", 1009, "too big")]
        if "meta" in self.state:
            return [("close", 1003, "expected a binary frame")]
        try:
            message = json.loads(frame)
            json.dumps(message, ensure_ascii=False).encode()
        except (ValueError, UnicodeEncodeError):
            return [("close", 1007, "bad JSON")]
        if not isinstance(message, dict):
            return [("close", 1007, "not an object")]
        size, meta = message.get("size"), message.get("meta")
        if type(size) is not int or size < 0 or not isinstance(meta, dict):
            return [("close", 1007, "bad announcement")]
        if size > self.max_size:
            return [("close", 1009, "too big")]
        self.state.update(meta=meta, size=size)
        return []
