"""Wire formats shared by several modules, computed without any socket.

- :mod:`rtlab.wire.websocket`: bytes of WebSocket frames (RFC 6455, section 5.2);
- :mod:`rtlab.wire.sse`: the ``text/event-stream`` format, written and parsed as a
  browser's ``EventSource`` does.
"""
