"""Known bad: forgets that some paths pass plain request/response HTTP only.

SSE and WebSockets through proxies that buffer streams and block the upgrade:
asks the path for more than it gives.
"""

from solutions.transports import Needs

EXPECTED = {"websocket-for-everything"}
MESSAGE = "upgrade does not get through"


def choose_transport(needs: Needs) -> str:
    if needs.noticed_within >= 60:
        return "polling"
    if needs.client_streams or needs.binary:
        return "websocket"
    return "sse"
