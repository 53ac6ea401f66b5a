"""Known bad: SSE whenever it is not plain-HTTP-only, whatever the feature.

Too little for chat (every client message a request of its own), too much for
the nightly report (a stream held open all night for one event).
"""

from solutions.transports import Needs

EXPECTED = {"polling-as-realtime", "websocket-for-everything"}
MESSAGE = "news nobody waits for"


def choose_transport(needs: Needs) -> str:
    return "long-polling" if needs.http_only else "sse"
