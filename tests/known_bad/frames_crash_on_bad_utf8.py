"""Known bad: the size check encodes the text frame, which raises on lone surrogates.

`len(frame.encode())` is the right measure, but a str with a lone surrogate
cannot be encoded: UnicodeEncodeError escapes receive(), and the live server
closes with 1011 instead of 1007.
"""

from solutions.frames import Receiver as Reference
from solutions.frames import encode_upload  # noqa: F401

EXPECTED = {"websocket-message-limits"}
MESSAGE = "UnicodeEncodeError"


class Receiver(Reference):
    def receive(self, frame):
        if isinstance(frame, str) and len(frame.encode()) > self.max_size:  # BUG: may raise
            return [("close", 1009, "too big")]
        return super().receive(frame)
