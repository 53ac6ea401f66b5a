"""Known bad: right choices, wrong spelling ("ws", "SSE", "long_polling").

The grader needs exactly one of the four names; anything else fails both checks
with a message that lists them.
"""

from solutions.transports import Needs
from solutions.transports import choose_transport as reference

EXPECTED = {"polling-as-realtime", "websocket-for-everything"}
MESSAGE = "which is not one of"

SPELLING = {"websocket": "ws", "sse": "SSE", "long-polling": "long_polling"}


def choose_transport(needs: Needs) -> str:
    answer = reference(needs)
    return SPELLING.get(answer, answer)
