"""Known bad: the payload travels as base64 inside the JSON announcement.

The classic: one text frame {"meta": ..., "data": "<base64>"}. It works, and
every upload is a third larger on the wire, with base64 and JSON work on both
ends. The receiver is the reference one, so only the sending side is wrong.
"""

import base64
import json

from solutions.frames import Receiver  # noqa: F401

EXPECTED = {"websocket-binary-json"}
MESSAGE = "as base64 inside JSON text"


def encode_upload(meta, payload):
    # BUG: bytes inside JSON as base64, in a text frame
    return [json.dumps({"size": len(payload), "meta": meta,
                        "data": base64.b64encode(payload).decode("ascii")})]
