"""Known bad: the client starts from a clean document on every reconnect.

"The server has the truth": on reconnect it empties its text before syncing.
In a CRDT an emptied text is a deletion like any other, so the next step 2
carries it to the room, and from there to everyone: the offline edits go,
and so does everything else.
"""

from pycrdt import Text

from solutions.collab import Client as Reference
from solutions.collab import Room  # noqa: F401

EXPECTED = {"reconnection-state-loss"}
MESSAGE = "did your code edit the document"


class Client(Reference):
    def __init__(self, doc) -> None:
        super().__init__(doc)
        self.connections = 0

    def connect(self) -> list[bytes]:
        self.connections += 1
        if self.connections > 1:
            text = self.doc.get("text", type=Text)
            del text[0:len(text)]  # BUG: "start clean"
        return super().connect()
