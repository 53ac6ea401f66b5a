"""Known bad: the payload is sent as a text frame (bytes decoded as Latin-1).

No base64, but a text frame: every byte above 0x7f becomes two UTF-8 bytes
(about 1.5 x for random data), and the receiver, which waits for a binary
frame, refuses it with 1003.
"""

import json

from solutions.frames import Receiver  # noqa: F401

EXPECTED = {"websocket-binary-json"}
MESSAGE = "as characters of a text frame"


def encode_upload(meta, payload):
    # BUG: str(...) of bytes is a text frame
    return [json.dumps({"size": len(payload), "meta": meta}), payload.decode("latin-1")]
