"""Known bad: malformed JSON is refused with 1011 (Internal Error).

The server blames itself for the client's mistake: 1011 is for a server that
failed, and it sends whoever debugs it looking in the wrong place.
"""

import json

from solutions.frames import Receiver as Reference
from solutions.frames import encode_upload  # noqa: F401

EXPECTED = {"websocket-message-limits"}
MESSAGE = "1011 (Internal Error)"


class Receiver(Reference):
    def receive(self, frame):
        if isinstance(frame, str) and self.pending is None:
            try:
                json.loads(frame)
            except ValueError:
                return [("close", 1011, "could not parse")]  # BUG: 1007 is the client's fault
        return super().receive(frame)
