"""Known bad: the text limit counts characters, not UTF-8 bytes.

An announcement of 700 "é" is 700 characters and 1,400 bytes: it passes a
1,024 limit that the wire (and websockets' max_size) measures in bytes.
"""

from solutions.frames import Receiver as Reference
from solutions.frames import encode_upload  # noqa: F401

EXPECTED = {"websocket-message-limits"}
MESSAGE = "oversize text"


class Receiver(Reference):
    def receive(self, frame):
        if isinstance(frame, str) and self.pending is None:
            limit, self.max_size = self.max_size, 2**62
            try:
                if len(frame) > limit:  # BUG: characters, not bytes
                    return [("close", 1009, "too big")]
                return super().receive(frame)
            finally:
                self.max_size = limit
        return super().receive(frame)
