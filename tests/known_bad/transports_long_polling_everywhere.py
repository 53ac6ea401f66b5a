"""Known bad: long polling as the universal answer ("it works everywhere").

It does work everywhere, at a whole request per delivery where SSE or a
WebSocket would do, and holds requests open for news nobody waits for.
"""

from solutions.transports import Needs

EXPECTED = {"polling-as-realtime", "websocket-for-everything"}
MESSAGE = "whole HTTP request and response per delivery"


def choose_transport(needs: Needs) -> str:
    return "long-polling"
