"""A collaborative text editor in the notebook: an ipywidgets Textarea bound to a Y.Text.

A browser's text area reports its whole new value after each keystroke; a
CRDT wants the *operation*: "insert 'x' at 12", "delete 3 at 40". The bridge is
:func:`text_splice`, the smallest single splice that turns the old value into
the new one (common prefix and suffix kept, the middle replaced), and
:func:`apply_splice`, which applies it to a ``pycrdt.Text`` in one transaction.
Sending the whole value instead would be last-write-wins again.

pycrdt indexes text by **UTF-8 bytes** (``len(Text)`` of ``"é"`` is 2), while
Python strings (and the widget) count characters, so offsets are converted.

:class:`CollabEditor` shows one replica: a header with who is there (from a
pycrdt ``Awareness``) and whether the link is up, the text area, and a button
that cuts and restores the link (any object with ``cut()`` and ``restore()``,
plain or async, and an ``online`` attribute). Local typing goes into the doc
with origin ``"widget"``; remote changes rewrite the text area. A remote change
that lands while someone is typing can be overwritten by the browser's stale
value: editors such as y-codemirror bind at the operation level for that reason.
"""

from __future__ import annotations

import asyncio
import html
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from pycrdt import Awareness, Doc, Text, TextEvent

from rtlab.live.registry import raise_collected

__all__ = ["CollabEditor", "Link", "TextSplice", "apply_splice", "text_splice", "utf8_offset"]

WIDGET_ORIGIN = "widget"


@dataclass(frozen=True)
class TextSplice:
    """Replace ``delete`` characters at ``index`` by ``insert`` (character offsets)."""

    index: int
    delete: int
    insert: str

    def apply(self, value: str) -> str:
        return value[: self.index] + self.insert + value[self.index + self.delete :]

    def __bool__(self) -> bool:
        return bool(self.delete or self.insert)


def text_splice(old: str, new: str) -> TextSplice:
    """The smallest single splice that turns ``old`` into ``new``.

    Keeps the longest common prefix, then the longest common suffix of what is
    left (so the two never overlap), and replaces the middle. One keystroke,
    a paste or a selection replaced by typing is exactly one splice.
    """
    limit = min(len(old), len(new))
    start = 0
    while start < limit and old[start] == new[start]:
        start += 1
    end = 0  # length of the common suffix, not reaching into the prefix
    while end < limit - start and old[-1 - end] == new[-1 - end]:
        end += 1
    return TextSplice(start, len(old) - start - end, new[start : len(new) - end])


def utf8_offset(value: str, index: int) -> int:
    """The pycrdt (UTF-8 byte) offset of character ``index`` in ``value``."""
    return len(value[:index].encode("utf-8"))


def apply_splice(text: Text, before: str, splice: TextSplice, origin: Any = None) -> None:
    """Apply ``splice`` (character offsets in ``before``, the text's value) to ``text``."""
    if not splice:
        return
    start = utf8_offset(before, splice.index)
    stop = start + len(before[splice.index : splice.index + splice.delete].encode("utf-8"))
    doc = text.doc
    with doc.transaction(origin=origin):  # one update on the wire for the whole splice
        if stop > start:
            del text[start:stop]
        if splice.insert:
            text.insert(start, splice.insert)


class Link(Protocol):
    """What the editor's button drives: a replica's connection to the server."""

    online: bool

    def cut(self) -> Awaitable[None] | None: ...

    def restore(self) -> Awaitable[None] | None: ...


class CollabEditor:
    """One replica in a text area: ``doc[text_name]`` (a Text), who is there, its link."""

    def __init__(
        self,
        doc: Doc[Any],
        name: str,
        *,
        text_name: str = "text",
        awareness: Awareness | None = None,
        link: Link | None = None,
        colour: str = "#0969da",
        rows: int = 4,
    ) -> None:
        import ipywidgets as w

        self.doc = doc
        self.name = name
        self.text: Text = doc.get(text_name, type=Text)
        self.awareness = awareness
        self.link = link
        self.colour = colour
        self.errors: list[BaseException] = []  # from async cut/restore, raised by check()
        self._tasks: set[asyncio.Task[None]] = set()
        self.header = w.HTML()
        self.area = w.Textarea(
            value=str(self.text), rows=rows, continuous_update=True,
            layout=w.Layout(width="100%"),
        )
        self.button = w.ToggleButton(
            value=False, description="cut link", icon="unlink", disabled=link is None,
            tooltip="cut this replica's connection; press again to reconnect",
            layout=w.Layout(width="9em"),
        )
        self.widget = w.VBox(
            [w.HBox([self.header, self.button], layout=w.Layout(justify_content="space-between")),
             self.area],
            layout=w.Layout(border=f"2px solid {colour}", padding="4px", margin="2px",
                            width="48%"),
        )
        self.area.observe(self._typed, names="value")
        self.button.observe(self._toggled, names="value")
        self._text_sub = self.text.observe(self._changed)
        self._aw_sub = awareness.observe(self._aware) if awareness is not None else None
        self.refresh()

    # -- the two directions ---------------------------------------------------
    def _typed(self, change: dict[str, Any]) -> None:
        """The text area changed: turn old -> new into a splice on the Y.Text."""
        current = str(self.text)  # what the area showed: remote changes are written back at once
        if change["new"] != current:
            apply_splice(self.text, current, text_splice(current, change["new"]), WIDGET_ORIGIN)

    def _changed(self, event: TextEvent) -> None:
        """The Y.Text changed (remote update, or our own splice): show it."""
        value = str(self.text)
        if self.area.value != value:
            self.area.value = value

    def _aware(self, topic: str, change: Any) -> None:
        if topic == "change":
            self.refresh()

    def _toggled(self, change: dict[str, Any]) -> None:
        if self.link is None:
            return
        action = self.link.cut if change["new"] else self.link.restore
        self._run(action)
        self.button.description = "reconnect" if change["new"] else "cut link"
        self.button.icon = "link" if change["new"] else "unlink"
        self.refresh()

    def _run(self, action: Callable[[], Awaitable[None] | None]) -> None:
        result = action()
        if inspect.isawaitable(result):
            async def wait() -> None:
                try:
                    await result
                except Exception as error:  # shown at check(), not lost in a callback
                    self.errors.append(error)
                self.refresh()

            task = asyncio.get_running_loop().create_task(wait())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    # -- driving it from code (what a person does in the browser) ---------------
    def type(self, index: int, insert: str = "", delete: int = 0) -> None:
        """Edit the text area as a person would: the widget sees only the new value."""
        self.area.value = TextSplice(index, delete, insert).apply(self.area.value)

    def cut(self) -> None:
        self.button.value = True

    def restore(self) -> None:
        self.button.value = False

    async def settle(self) -> None:
        """Wait for pending cut/restore calls; raise what they raised."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self.check()

    def check(self) -> None:
        errors, self.errors = self.errors, []
        raise_collected(errors, "the editors")

    # -- display --------------------------------------------------------------
    def people(self) -> list[tuple[str, str]]:
        """(name, colour) of everyone in the awareness states, this replica first."""
        if self.awareness is None:
            return [(self.name, self.colour)]
        states = self.awareness.states
        mine = self.awareness.client_id
        found = []
        for client_id in sorted(states, key=lambda cid: (cid != mine, cid)):
            state = states[client_id]
            user = state.get("user", state)  # y-websocket apps nest it under "user"
            if isinstance(user, dict) and "name" in user:
                colour = user.get("colour", user.get("color", "#57606a"))
                found.append((str(user["name"]), str(colour)))
        return found

    def refresh(self) -> None:
        # Cut by the button counts at once; the link itself notices a moment later.
        online = self.link is None or (
            not self.button.value and bool(getattr(self.link, "online", True)))
        status = ('<span style="color:#1a7f37">online</span>' if online
                  else '<span style="color:#cf222e">offline: edits kept locally</span>')
        chips = " ".join(
            f'<span style="background:{html.escape(colour)};color:white;border-radius:3px;'
            f'padding:0 4px;font-size:11px">{html.escape(person)}</span>'
            for person, colour in self.people()
        )
        self.header.value = (
            f'<div style="font:13px system-ui,sans-serif"><b style="color:{self.colour}">'
            f"{html.escape(self.name)}</b> &nbsp; {status} &nbsp; here: {chips}</div>"
        )

    def close(self) -> None:
        """Detach from the doc and the awareness (the widget stays, frozen)."""
        self.text.unobserve(self._text_sub)
        if self.awareness is not None and self._aw_sub is not None:
            self.awareness.unobserve(self._aw_sub)
            self._aw_sub = None
        self.area.unobserve(self._typed, names="value")

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)  # type: ignore[no-untyped-call]

    def __repr__(self) -> str:
        return f"<CollabEditor {self.name!r}: {len(self.area.value)} characters>"
