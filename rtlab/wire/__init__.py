"""Wire formats shared by several modules, computed without any socket.

- :mod:`rtlab.wire.websocket`: bytes of WebSocket frames (RFC 6455, section 5.2);
- :mod:`rtlab.wire.sse`: the ``text/event-stream`` format, written and parsed as a
  browser's ``EventSource`` does;
- :mod:`rtlab.wire.yjs`: the y-protocols messages of Yjs sync, parsed strictly;
- :mod:`rtlab.wire.bounded_json`: JSON from a client, parsed with bounds on size
  and nesting (``loads_bounded``), for every server that reads JSON.
"""
