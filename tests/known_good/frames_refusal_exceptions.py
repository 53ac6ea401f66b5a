"""Known good: an explicit state machine that raises a private Refusal and turns it into a close.

Differs from the reference: named states, checks written as guard functions
that raise, compact non-ASCII JSON with the meta first, and a bytearray copy of
each payload (equal bytes are equal).
"""

import enum
import json

MAX_SIZE = 1 << 20


def encode_upload(meta, payload):
    header = json.dumps({"meta": meta, "size": len(payload)}, ensure_ascii=False,
                        separators=(",", ":"))
    return [header, payload]


class Refusal(Exception):
    def __init__(self, code, reason):
        super().__init__(reason)
        self.code, self.reason = code, reason


class State(enum.Enum):
    IDLE = "waiting for an announcement"
    PAYLOAD = "waiting for a payload"


def _walk_strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _walk_strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _walk_strings(v)


class Receiver:
    def __init__(self, max_size=MAX_SIZE):
        self.max_size = max_size
        self.state = State.IDLE
        self.meta = None
        self.size = 0

    def receive(self, frame):
        try:
            return self._step(frame)
        except Refusal as refusal:
            return [("close", refusal.code, refusal.reason[:100])]

    def _limit(self, n, what):
        if n > self.max_size:
            raise Refusal(1009, f"{what} is {n} bytes, over {self.max_size}")

    def _step(self, frame):
        if isinstance(frame, str):
            if any(0xD800 <= ord(c) <= 0xDFFF for c in frame):
                raise Refusal(1007, "invalid UTF-8")
            self._limit(len(frame.encode("utf-8")), "text frame")
            if self.state is State.PAYLOAD:
                raise Refusal(1003, "binary payload expected")
            self._announce(frame)
            return []
        self._limit(len(frame), "payload")
        if self.state is State.IDLE:
            raise Refusal(1003, "nothing was announced")
        if len(frame) != self.size:
            raise Refusal(1007, "length does not match the announcement")
        meta, self.meta, self.state = self.meta, None, State.IDLE
        return [("deliver", meta, bytearray(frame))]

    def _announce(self, text):
        try:
            message = json.loads(text)
        except (json.JSONDecodeError, RecursionError):
            raise Refusal(1007, "not JSON") from None
        if type(message) is not dict:
            raise Refusal(1007, "not an object")
        for s in _walk_strings(message):
            if any(0xD800 <= ord(c) <= 0xDFFF for c in s):
                raise Refusal(1007, "lone surrogate escape")
        size, meta = message.get("size"), message.get("meta")
        if type(size) is not int or size < 0 or type(meta) is not dict:
            raise Refusal(1007, "need size and meta")
        self._limit(size, "announced payload")
        self.state, self.meta, self.size = State.PAYLOAD, meta, size
