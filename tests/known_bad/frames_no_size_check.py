"""Known bad: no size limit at all: a 2 MB upload is buffered and delivered.

Everything else is right. websockets' max_size would catch frames above the
library's limit, but the application's own limit (max_size here) is ignored.
"""

from solutions.frames import Receiver as Reference
from solutions.frames import encode_upload  # noqa: F401

EXPECTED = {"websocket-message-limits"}
MESSAGE = "oversize"


class Receiver(Reference):
    def __init__(self, max_size=2**20):
        super().__init__(max_size=2**62)  # BUG: the limit is never enforced
