"""Known bad: a first visit gets the document but no chat history (module 07's sharp edge).

The newcomer lands in a silent room although the others have been talking: it sees only
what is said after it arrived.
"""

from typing import Any

from solutions.capstone import AppClient, encode, make_presence  # noqa: F401
from solutions.capstone import AppServer as Reference

EXPECTED = {"join-without-backfill"}
MESSAGE = "it was shown none of them"


class AppServer(Reference):
    def _join(self, conn: str, user: str, since: Any, now: float) -> list[tuple[Any, ...]]:
        if since is not None:
            return super()._join(conn, user, since, now)
        document = {"type": "document", "edits": self.backplane.document()}
        # BUG: a first visit starts at the end of the log, as if it had seen it all
        return [("send", conn, encode(document)),
                *super()._join(conn, user, self.backplane.latest(), now)]
