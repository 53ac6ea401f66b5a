"""Known bad: the close reason quotes the whole bad frame.

Helpful in a log, but a close frame carries at most 123 bytes of reason, and
websockets raises ProtocolError instead of sending a longer one.
"""

from solutions.frames import Receiver as Reference
from solutions.frames import encode_upload  # noqa: F401

EXPECTED = {"websocket-message-limits"}
MESSAGE = "a close frame carries at most 123"


class Receiver(Reference):
    def receive(self, frame):
        actions = super().receive(frame)
        shown = frame if isinstance(frame, str) else frame.hex()
        # BUG: the reason can be any length
        return [(a[0], a[1], f"{a[2]}: {shown!r}" + " " * 130) if a[0] == "close" else a
                for a in actions]
