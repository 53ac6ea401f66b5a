"""Known bad: the payload travels as hex inside the JSON announcement (2 x the bytes)."""

import json

from solutions.frames import Receiver  # noqa: F401

EXPECTED = {"websocket-binary-json"}
MESSAGE = "as hex inside JSON text"


def encode_upload(meta, payload):
    # BUG: a hex string is twice the payload
    return [json.dumps({"size": len(payload), "meta": meta, "hex": payload.hex()})]
