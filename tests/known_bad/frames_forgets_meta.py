"""Known bad: the receiver keeps the first upload's meta for every later upload.

Sending and refusing are right; delivery is wrong from the second upload on.
"""

from solutions.frames import Receiver as Reference
from solutions.frames import encode_upload  # noqa: F401

EXPECTED = {"websocket-binary-json", "websocket-message-limits"}


class Receiver(Reference):
    first_meta = None

    def receive(self, frame):
        actions = super().receive(frame)
        out = []
        for action in actions:
            if action[0] == "deliver":
                if self.first_meta is None:
                    self.first_meta = action[1]
                action = ("deliver", self.first_meta, action[2])  # BUG: stale meta
            out.append(action)
        return out
