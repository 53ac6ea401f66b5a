"""Known bad: catches ValueError around json.loads, and nothing else.

An announcement nested 1,000 deep (under 1 KiB) makes json.loads raise
RecursionError, not ValueError: receive() crashes, and a live server answers the
client's mistake with 1011 (Internal Error) instead of 1007.
"""

import json

from solutions.frames import Receiver as Reference
from solutions.frames import encode_upload  # noqa: F401

EXPECTED = {"websocket-message-limits"}
MESSAGE = "RecursionError"


class Receiver(Reference):
    def _announcement(self, text):
        try:
            json.loads(text)
        except ValueError:  # BUG: RecursionError is not a ValueError, and escapes
            pass
        return super()._announcement(text)
