"""The notebook's collaborative editor: text area values become minimal splices on a Y.Text."""

from __future__ import annotations

import asyncio
import random

import pytest
from pycrdt import Awareness, Doc, Text

from rtlab.topics.collaboration.widgets import (
    CollabEditor,
    TextSplice,
    apply_splice,
    text_splice,
    utf8_offset,
)

ALPHABET = "ab é😀中\n"  # repeated letters (ambiguous splices), 2-, 3- and 4-byte characters


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("hello", "hello", TextSplice(5, 0, "")),
        ("", "abc", TextSplice(0, 0, "abc")),
        ("abc", "", TextSplice(0, 3, "")),
        ("helo", "hello", TextSplice(3, 0, "l")),  # a repeated letter: one insert, not more
        ("hello world", "hello, world", TextSplice(5, 0, ",")),
        ("hello world", "hello world!", TextSplice(11, 0, "!")),
        ("hello world", "ello world", TextSplice(0, 1, "")),
        ("the cat sat", "the dog sat", TextSplice(4, 3, "dog")),  # a selection replaced
        ("aaa", "aa", TextSplice(2, 1, "")),
        ("café", "cafés", TextSplice(4, 0, "s")),
    ],
)
def test_a_text_area_change_becomes_the_smallest_single_splice(old, new, expected):
    assert text_splice(old, new) == expected
    assert expected.apply(old) == new


def test_random_edits_round_trip_and_never_splice_more_than_changed():
    rng = random.Random(6)
    for _ in range(2000):
        old = "".join(rng.choices(ALPHABET, k=rng.randint(0, 12)))
        start = rng.randint(0, len(old))
        stop = rng.randint(start, len(old))
        new = old[:start] + "".join(rng.choices(ALPHABET, k=rng.randint(0, 4))) + old[stop:]
        splice = text_splice(old, new)
        assert splice.apply(old) == new, (old, new, splice)
        # Never larger than the edit that was really made.
        assert splice.delete <= stop - start and len(splice.insert) <= len(new) - len(old) + (
            stop - start
        ), (old, new, splice)


def test_pycrdt_counts_utf8_bytes_so_offsets_are_converted():
    doc = Doc(client_id=1)
    text = doc.get("text", type=Text)
    text += "aé😀"
    assert len(text) == 1 + 2 + 4  # why utf8_offset exists
    assert [utf8_offset("aé😀b", i) for i in range(5)] == [0, 1, 3, 7, 8]


def test_splices_on_a_y_text_give_the_new_value_with_any_characters():
    rng = random.Random(9)
    doc = Doc(client_id=1)
    text = doc.get("text", type=Text)
    value = ""
    for _ in range(500):
        start = rng.randint(0, len(value))
        stop = rng.randint(start, min(len(value), start + 3))
        new = value[:start] + "".join(rng.choices(ALPHABET, k=rng.randint(0, 3))) + value[stop:]
        apply_splice(text, value, text_splice(value, new))
        assert str(text) == new
        value = new


def test_one_splice_is_one_update_on_the_wire():
    doc = Doc(client_id=1)
    text = doc.get("text", type=Text)
    text += "the cat sat"
    updates = []
    doc.observe(lambda event: updates.append(event.update))
    apply_splice(text, "the cat sat", text_splice("the cat sat", "the dog sat"), "widget")
    assert len(updates) == 1 and str(text) == "the dog sat"


class Wire:
    """Two replicas and the updates in flight between them (the server is tested elsewhere)."""

    def __init__(self):
        self.docs = [Doc(client_id=11), Doc(client_id=12)]
        self.in_flight = []
        for source, target in ((0, 1), (1, 0)):
            self.docs[source].observe(
                lambda event, target=self.docs[target]: self.in_flight.append(
                    (target, event.update))
            )

    def deliver(self):
        while self.in_flight:
            target, update = self.in_flight.pop(0)
            target.apply_update(update)  # an echo of a known update changes nothing


def test_typing_in_one_editor_shows_in_the_other():
    wire = Wire()
    ada, bo = CollabEditor(wire.docs[0], "ada"), CollabEditor(wire.docs[1], "bo")
    ada.type(0, "Hello wörld")
    wire.deliver()
    assert str(wire.docs[1].get("text", type=Text)) == "Hello wörld"
    assert bo.area.value == "Hello wörld"
    bo.type(5, ",")  # the widget sees the whole new value only
    bo.type(len(bo.area.value), "!")
    wire.deliver()
    ada.type(7, delete=5, insert="there")
    wire.deliver()
    assert ada.area.value == bo.area.value == "Hello, there!"
    assert str(wire.docs[0].get("text", type=Text)) == "Hello, there!"


def test_concurrent_typing_on_unlinked_replicas_merges_when_updates_are_exchanged():
    ada_doc, bo_doc = Doc(client_id=11), Doc(client_id=12)
    ada, bo = CollabEditor(ada_doc, "ada"), CollabEditor(bo_doc, "bo")
    ada.type(0, "shared text")
    bo_doc.apply_update(ada_doc.get_update())
    assert bo.area.value == "shared text"
    ada.type(0, "[ada] ")
    bo.type(len(bo.area.value), " [bo]")
    ada_doc.apply_update(bo_doc.get_update(ada_doc.get_state()))
    bo_doc.apply_update(ada_doc.get_update(bo_doc.get_state()))
    assert ada.area.value == bo.area.value == "[ada] shared text [bo]"


def test_the_header_lists_everyone_in_the_awareness_states_and_the_link_state():
    doc = Doc(client_id=11)
    awareness = Awareness(doc)
    awareness.set_local_state({"user": {"name": "ada", "colour": "#0969da"}})
    peer = Awareness(Doc(client_id=5))
    peer.set_local_state({"user": {"name": "bo", "colour": "#cf222e"}})

    class Link:  # the smallest link: what the button calls
        online = True

        def cut(self):
            self.online = False

        async def restore(self):
            await asyncio.sleep(0)
            self.online = True

    wire = Link()
    editor = CollabEditor(doc, "ada", awareness=awareness, link=wire)
    assert editor.people() == [("ada", "#0969da")]
    awareness.apply_awareness_update(peer.encode_awareness_update([5]), "server")
    assert editor.people() == [("ada", "#0969da"), ("bo", "#cf222e")]  # this replica first
    assert ">bo<" in editor.header.value and "online" in editor.header.value
    awareness.remove_awareness_states([5], "server")
    assert ">bo<" not in editor.header.value

    async def press_the_button():
        editor.cut()
        assert not wire.online and "offline" in editor.header.value
        editor.restore()
        await editor.settle()
        assert wire.online and "offline" not in editor.header.value

    asyncio.run(press_the_button())


def test_an_error_in_an_async_restore_is_kept_and_raised_by_settle():
    class Broken:
        online = False

        def cut(self):
            pass

        async def restore(self):
            raise ConnectionRefusedError("server down")

    editor = CollabEditor(Doc(client_id=1), "ada", link=Broken())

    async def press():
        editor.cut()
        editor.restore()
        with pytest.raises(ConnectionRefusedError):
            await editor.settle()

    asyncio.run(press())


def test_a_closed_editor_no_longer_follows_the_doc():
    doc = Doc(client_id=1)
    editor = CollabEditor(doc, "ada")
    editor.type(0, "kept")
    editor.close()
    doc.get("text", type=Text).insert(0, "not shown ")
    assert editor.area.value == "kept"


def test_editors_on_real_clients_merge_after_the_button_cuts_and_restores_a_link():
    from rtlab.live import running, stop_all
    from rtlab.topics.collaboration import SyncClient, SyncServer

    async def scenario():
        server = await SyncServer.start("t-widgets")
        try:
            clients, editors = {}, {}
            for client_id, name in ((11, "ada"), (12, "bo")):
                client = await SyncClient.start(
                    server.room_url("doc"), Doc(client_id=client_id), name=f"t-{name}",
                    user={"user": {"name": name}})
                await client.wait_synced()
                clients[name] = client
                editors[name] = CollabEditor(client.doc, name, awareness=client.awareness,
                                             link=client)
            ada, bo = editors["ada"], editors["bo"]
            await clients["ada"].wait_for(lambda: [n for n, _ in ada.people()] == ["ada", "bo"])
            ada.type(0, "plan: ")
            await clients["bo"].wait_for(lambda: bo.area.value == "plan: ")
            bo.cut()  # the button
            await clients["bo"].wait_for(lambda: not clients["bo"].online)
            assert "offline" in bo.header.value and bo.button.description == "reconnect"
            bo.type(len(bo.area.value), "ship it")  # offline
            ada.type(0, "[draft] ")
            await asyncio.sleep(0.1)
            assert bo.area.value == "plan: ship it" and ada.area.value == "[draft] plan: "
            bo.restore()
            await bo.settle()
            await clients["ada"].wait_for(lambda: ada.area.value == bo.area.value)
            assert ada.area.value == "[draft] plan: ship it"
        finally:
            errors = await stop_all()
        assert not errors and not running()

    asyncio.run(asyncio.wait_for(scenario(), 30))


def test_a_value_arriving_from_the_browser_goes_through_the_same_splice():
    doc = Doc(client_id=1)
    editor = CollabEditor(doc, "ada")
    editor.type(0, "hello world")
    editor.area.set_state({"value": "hello, world"})  # what ipywidgets does with a comm message
    assert str(doc.get("text", type=Text)) == "hello, world"
