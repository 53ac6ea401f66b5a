"""The course's Server-Sent Events toolkit: write and read ``text/event-stream``.

Writing: :func:`format_event` turns one event into the lines a server sends,
:func:`format_comment` makes a keep-alive comment, :func:`format_retry` a lone
``retry:`` announcement.

Reading: :class:`EventParser` is an incremental parser that follows the WHATWG
HTML "event stream interpretation" algorithm, so what it returns is what a
browser's ``EventSource`` would dispatch. Theory of operation:

- The stream is cut into lines at CRLF, LF or a lone CR. A CR at the very end
  of a chunk may be the first half of a CRLF split across chunks, so the parser
  remembers it and swallows a LF that starts the next chunk.
- A line starting with ``:`` is a comment and ignored. Otherwise the field name
  is everything before the first ``:`` (the whole line if there is none, with an
  empty value) and the value everything after it, minus ONE leading space.
- ``data`` appends the value and a LF to the data buffer; ``event`` sets the
  type; ``id`` sets the last event ID unless the value contains NUL; ``retry``
  sets the reconnection time if the value is ASCII digits only; other fields are
  ignored.
- An empty line dispatches: the last event ID (which persists across events:
  an event without an ``id:`` line inherits the previous one, just as
  ``EventSource.lastEventId`` does) is taken; if the data buffer is empty nothing
  is dispatched; otherwise the final LF is removed and an :class:`Event` comes
  out, with type ``"message"`` if none was set.
- An incomplete event at the end of the stream is never dispatched (a browser
  drops it too), so a server must end every event with a blank line.

SSE has no way to carry a CR inside data: ``format_event`` splits data at
CRLF, LF and CR into ``data:`` lines, and the reader joins them with LF. So
``"a\\r\\nb"`` arrives as ``"a\\nb"`` (:func:`normalize_newlines` says what
arrives).
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

__all__ = [
    "MEDIA_TYPE",
    "STREAM_HEADERS",
    "Event",
    "EventParser",
    "format_comment",
    "format_event",
    "format_retry",
    "normalize_newlines",
    "parse_stream",
]

MEDIA_TYPE = "text/event-stream"
# Headers a streaming response should carry: no caching, and tell nginx-like
# proxies not to buffer the stream (they would hold events back until a buffer fills).
STREAM_HEADERS = {
    "Content-Type": f"{MEDIA_TYPE}; charset=utf-8",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
}

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_DIGITS = re.compile(r"[0-9]+")


def _is_retry_value(value: str) -> bool:
    # ASCII digits only; a value too large for 64 bits is ignored, as Chromium does
    # (and Python refuses to convert more than 4,300 digits).
    return bool(_DIGITS.fullmatch(value)) and len(value) <= 20 and int(value) < 2**64


def normalize_newlines(text: str) -> str:
    """What ``text`` becomes after a trip through SSE ``data:`` lines (CRLF and CR -> LF)."""
    return _LINE_BREAK.sub("\n", text)


def _check_single_line(name: str, value: str) -> None:
    if "\r" in value or "\n" in value:
        raise ValueError(f"an SSE {name} cannot contain a line break: {value!r}")


def format_event(
    data: str,
    *,
    event_id: str | None = None,
    event: str | None = None,
    retry_ms: int | None = None,
) -> str:
    """One event as stream text: optional ``retry:``, ``id:``, ``event:``, then ``data:`` lines.

    Multi-line data becomes one ``data:`` line per line (CRLF, CR and LF all
    split), and a blank line ends the event. Raises ``ValueError`` for an id or
    event type with a line break, an id with NUL (a browser would ignore it),
    or a negative ``retry_ms``.
    """
    lines: list[str] = []
    if retry_ms is not None:
        lines.append(format_retry(retry_ms).rstrip("\n"))
    if event_id is not None:
        _check_single_line("id", event_id)
        if "\0" in event_id:
            raise ValueError(f"an SSE id cannot contain NUL (clients ignore it): {event_id!r}")
        lines.append(f"id: {event_id}")
    if event is not None:
        _check_single_line("event type", event)
        lines.append(f"event: {event}")
    lines.extend(f"data: {line}" for line in _LINE_BREAK.split(data))
    return "\n".join(lines) + "\n\n"


def format_retry(retry_ms: int) -> str:
    """A ``retry:`` line on its own (the client's reconnection time, in milliseconds)."""
    if isinstance(retry_ms, bool) or not isinstance(retry_ms, int) or retry_ms < 0:
        raise ValueError(f"retry must be a non-negative int of milliseconds, got {retry_ms!r}")
    return f"retry: {retry_ms}\n"


def format_comment(text: str = "") -> str:
    """A comment block (keep-alive): ``: text`` per line, then a blank line. Clients ignore it."""
    return "".join(f": {line}\n" if line else ":\n" for line in _LINE_BREAK.split(text)) + "\n"


@dataclass(frozen=True, slots=True)
class Event:
    """One dispatched event, as an ``EventSource`` listener would see it.

    ``id`` is the last event ID in force (``MessageEvent.lastEventId``): it
    persists from earlier events, so ``has_own_id`` says whether this event's own
    block carried an ``id:`` line. ``retry`` is the reconnection time (ms) in
    force when it was dispatched, ``None`` if the stream never set one.
    """

    data: str
    event: str = "message"
    id: str = ""
    retry: int | None = None
    has_own_id: bool = False


class EventParser:
    """Incremental ``text/event-stream`` parser (WHATWG HTML rules).

    ``feed`` takes ``str`` chunks, or ``bytes`` (decoded as UTF-8 incrementally,
    invalid bytes replaced, as a browser does; a leading BOM is dropped) and
    returns the events completed by that chunk. Chunks may split lines, CRLF
    pairs and multi-byte characters anywhere.

    ``last_event_id`` is what a browser would send as ``Last-Event-ID`` on its
    next reconnect; ``retry`` the reconnection time announced (``None`` if never);
    ``retry_lines`` counts the valid ``retry:`` fields seen; ``pending`` says an
    incomplete event or line is waiting for more input.

    A browser keeps its last event ID from one stream to the next (Chromium
    starts the new stream's parser with it), so a reconnected stream that sends
    an event without ``id:`` reports the old id: pass it as ``last_event_id``.
    """

    def __init__(self, last_event_id: str = "") -> None:
        self.last_event_id = last_event_id
        self.retry: int | None = None
        self.retry_lines = 0
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._started = False
        self._partial = ""  # a line not ended yet
        self._after_cr = False  # the last chunk ended with CR: skip a LF that follows
        self._data: list[str] = []
        self._type = ""
        self._id_buffer = last_event_id
        self._own_id = False

    @property
    def pending(self) -> bool:
        return bool(self._partial or self._data or self._type or self._own_id)

    def feed(self, chunk: str | bytes | bytearray | memoryview) -> list[Event]:
        """Parse one more piece of the stream; return the events it completed, in order."""
        if isinstance(chunk, bytes | bytearray | memoryview):
            text = self._decoder.decode(chunk)
        elif isinstance(chunk, str):
            text = chunk
        else:
            raise TypeError(f"feed() takes str or bytes, not {type(chunk).__name__}")
        if not self._started and text:
            self._started = True
            if text.startswith("\ufeff"):
                text = text[1:]
        if self._after_cr and text.startswith("\n"):
            text = text[1:]
        if text:
            self._after_cr = text.endswith("\r")
        text = self._partial + text
        # Most streams use LF only: str.split is much faster than the regex.
        pieces = _LINE_BREAK.split(text) if "\r" in text else text.split("\n")
        # The last piece has no line break after it yet: keep it for the next chunk.
        self._partial = pieces.pop()
        events: list[Event] = []
        for line in pieces:
            if not line:
                event = self._dispatch()
                if event is not None:
                    events.append(event)
                continue
            if line[0] == ":":  # a comment
                continue
            # Inlined field handling: this loop is the hot path of every simulation.
            name, colon, value = line.partition(":")
            if colon and value[:1] == " ":
                value = value[1:]
            if name == "data":
                self._data.append(value)
            elif name == "event":
                self._type = value
            elif name == "id":
                if "\0" not in value:
                    self._id_buffer = value
                    self._own_id = True
            elif name == "retry" and _is_retry_value(value):
                self.retry = int(value)
                self.retry_lines += 1
        return events

    def _dispatch(self) -> Event | None:
        self.last_event_id = self._id_buffer
        data, kind, own_id = self._data, self._type, self._own_id
        self._data, self._type, self._own_id = [], "", False
        if not data:
            return None
        return Event(
            data="\n".join(data),
            event=kind or "message",
            id=self.last_event_id,
            retry=self.retry,
            has_own_id=own_id,
        )


def parse_stream(text: str | bytes) -> list[Event]:
    """All complete events of a whole stream (an unfinished last event is dropped)."""
    return EventParser().feed(text)
