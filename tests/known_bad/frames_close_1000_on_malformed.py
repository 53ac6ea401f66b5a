"""Known bad: bad input is refused, but with 1000 (Normal Closure).

The client is told all is well, and reconnects to send the same thing again.
"""

from solutions.frames import Receiver as Reference
from solutions.frames import encode_upload  # noqa: F401

EXPECTED = {"websocket-message-limits"}
MESSAGE = "1000 (Normal Closure)"


class Receiver(Reference):
    def receive(self, frame):
        actions = super().receive(frame)
        # BUG: every refusal becomes a normal closure
        return [("close", 1000, a[2]) if a[0] == "close" else a for a in actions]
