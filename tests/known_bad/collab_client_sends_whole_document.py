"""Known bad: the client sends its whole document for every edit.

Synchronizing Full State from the client's side: correct, and ever more
expensive as the document grows.
"""

from pycrdt import create_update_message

from solutions.collab import Client as Reference
from solutions.collab import Room  # noqa: F401

EXPECTED = {"synchronizing-full-state"}
MESSAGE = "update messages"


class Client(Reference):
    def local_update(self, update: bytes) -> list[bytes]:
        if not self.online:
            return []
        return [create_update_message(self.doc.get_update())]  # BUG: the whole doc
