"""Known bad: polls for everything (Polling Disguised as Real-time).

Right for the nightly report and the parcel page; for every feature where users
wait, they wait for the next poll, and idle clients keep the server busy.
"""

from solutions.transports import Needs

EXPECTED = {"polling-as-realtime"}
MESSAGE = "empty at"


def choose_transport(needs: Needs) -> str:
    return "polling"
