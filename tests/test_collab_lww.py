"""The last-write-wins document server of the collaboration lesson, on real loopback sockets."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import connect

from rtlab.live import FaultProxy, running, stop_all
from rtlab.topics.collaboration.lww import LWWEditor, LWWServer, lost_updates_demo, parse_write


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (b'{"doc": {}}', "binary"),
        ("{not json", "not JSON"),
        ('["doc"]', 'expected {"doc"'),
        ('{"doc": [1, 2]}', 'expected {"doc"'),
        ('{"by": "ada"}', 'expected {"doc"'),
    ],
)
def test_a_write_that_is_not_a_json_document_is_refused_with_a_reason(frame, reason):
    with pytest.raises(ValueError, match=reason.replace("{", r"\{").replace("[", r"\[")):
        parse_write(frame)


def test_a_well_formed_write_names_its_writer():
    assert parse_write('{"doc": {"items": ["a"]}, "by": "ada"}') == {
        "doc": {"items": ["a"]}, "by": "ada"}


async def until(condition, timeout=5.0):
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


def test_edits_made_one_after_the_other_are_all_kept():
    async def scenario():
        server = await LWWServer.start("t-lww-seq")
        ada, bo = LWWEditor("ada"), LWWEditor("bo")
        try:
            assert server.url.startswith("ws://127.0.0.1:")
            await ada.connect(server.url)
            await bo.connect(server.url)
            for number in range(3):
                for editor in (ada, bo):
                    version = server.version
                    await editor.add_item(f"{editor.name}-{number}")
                    await until(lambda v=version: ada.version == bo.version == v + 1)
            expected = [f"{name}-{n}" for n in range(3) for name in ("ada", "bo")]
            assert server.doc["items"] == ada.doc["items"] == bo.doc["items"] == expected
        finally:
            await ada.close()
            await bo.close()
            await server.stop()

    run(scenario())


def test_two_edits_that_cross_on_the_wire_keep_only_the_last_one():
    async def scenario():
        server = await LWWServer.start("t-lww-race")
        net = await FaultProxy.start("t-lww-net", server.server.port, latency=0.05)
        ada, bo = LWWEditor("ada"), LWWEditor("bo")
        try:
            await ada.connect(net.url)
            await bo.connect(net.url)
            # Both edit the same version: each write is sent before the other arrives.
            await asyncio.gather(ada.add_item("ada's line"), bo.add_item("bo's line"))
            await until(lambda: ada.version == bo.version == 2)
            assert server.doc["items"] in (["ada's line"], ["bo's line"])
            assert ada.doc == bo.doc == server.doc  # everyone agrees... on a lost edit
            assert server.bytes_in == sum(len(json.dumps({"doc": {"items": [line]}, "by": who}))
                                          for line, who in (("ada's line", "ada"),
                                                            ("bo's line", "bo")))
        finally:
            await ada.close()
            await bo.close()
            await stop_all()

    run(scenario())


def test_a_garbage_frame_closes_that_editor_with_1007_and_leaves_the_document_alone():
    async def scenario():
        server = await LWWServer.start("t-lww-bad")
        ada = LWWEditor("ada")
        try:
            await ada.connect(server.url)
            await ada.add_item("kept")
            await until(lambda: ada.version == 1)
            async with connect(server.url, proxy=None) as rogue:
                await rogue.recv()
                await rogue.send("{not json")
                await rogue.wait_closed()
                assert rogue.close_code == 1007
                assert rogue.close_reason.startswith("not JSON")
            assert server.doc == {"items": ["kept"]} and server.version == 1
            assert server.rejected and server.rejected[0].startswith("not JSON")
            await ada.add_item("still works")
            await until(lambda: ada.version == 2)
            assert server.doc == {"items": ["kept", "still works"]}
            server.check()  # a refused frame is not a server error
        finally:
            await ada.close()
            await server.stop()

    run(scenario())


def test_the_demo_counts_lost_edits_and_every_copy_ends_the_same():
    async def scenario():
        server = await LWWServer.start("t-lww-demo")
        net = await FaultProxy.start("t-lww-demo-net", server.server.port, latency=0.03)
        try:
            result = await lost_updates_demo(
                net.url, server, edits=8, seed=3, think=(0.0, 0.05), latency=0.03)
        finally:
            await stop_all()
        made = [item for _, _, item in result.made]
        assert len(made) == 16 and len(set(made)) == 16
        assert result.converged and result.final == result.copies["ada"]
        assert set(result.final) | set(result.lost) == set(made)
        assert result.lost, "16 edits 0-50 ms apart over a 60 ms round trip must collide"
        assert result.writes == 16
        assert f"{len(result.lost)} lost" in result.summary()
        assert not running()

    run(scenario())


def test_restarting_a_server_of_the_same_name_replaces_it():
    async def scenario():
        first = await LWWServer.start("t-lww-again")
        second = await LWWServer.start("t-lww-again")
        try:
            assert running().get("LWWServer t-lww-again") is second
            assert first.server is not None and not first.server.listening
        finally:
            await second.stop()
        assert "LWWServer t-lww-again" not in running()

    run(scenario())


def test_the_lost_updates_plot_marks_every_edit_kept_or_lost():
    from rtlab.topics.collaboration.lww import LWWRun

    run_ = LWWRun(made=[(0.1, "ada", "ada-1"), (0.2, "bo", "bo-1"), (0.3, "ada", "ada-2")],
                  final=["ada-1", "ada-2"], copies={"ada": ["ada-1", "ada-2"],
                                                    "bo": ["ada-1", "ada-2"]},
                  writes=3, bytes_in=0, bytes_out=0, latency=0.025)
    assert run_.lost == ["bo-1"] and run_.converged
    ax = run_.plot().axes[0]
    marks = [collection.get_offsets() for collection in ax.collections]
    assert sum(len(m) for m in marks) == 3
    assert "1 of 3 edits lost" in ax.get_title(loc="left")


def test_the_sequence_chart_draws_one_arrow_per_message():
    import matplotlib.pyplot as plt

    from rtlab.plots import sequence_chart

    fig = sequence_chart(["ada", "server", "bo"], [("ada", "server", "step 1"),
                                                   ("server", "bo", "update")])
    ax = fig.axes[0]
    labels = [text.get_text() for text in ax.texts]
    assert labels[:3] == ["ada", "server", "bo"] and {"step 1", "update"} <= set(labels)
    from matplotlib.text import Annotation

    assert sum(isinstance(text, Annotation) for text in ax.texts) == 2  # the arrows
    plt.close(fig)
