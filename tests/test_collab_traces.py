"""Real concurrent editing traces typed through the sync logic: every replica reaches endContent.

The traces are read from ../shared/data/editing-traces (or $RTLAB_TRACES). Where
they are absent the tests skip, except under CI=true, where that is a failure.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rtlab.learner import load_module
from rtlab.topics.collaboration import traces

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = load_module(ROOT / "solutions" / "collab.py", "traces_solution")


def need(name: str) -> traces.Trace:
    reason = traces.missing(name)
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but a trace is missing: {reason}")
        pytest.skip(reason)
    return traces.load(name)


@pytest.mark.parametrize(
    ("name", "agents", "seed"), [("friendsforever", 2, 3), ("clownschool", 3, 4)]
)
def test_a_concurrent_trace_replayed_with_drops_and_restarts_converges(name, agents, seed):
    trace = need(name)
    assert trace.concurrent and trace.agents == agents
    result = traces.replay_concurrent(trace, SOLUTION.Room, SOLUTION.Client, seed=seed)
    assert not result.stuck, result.summary()
    assert result.replicas == [trace.end] * agents, result.summary()
    assert result.room == trace.end
    # The schedule really was hostile: links dropped, agents typed offline, the server restarted.
    assert result.disconnects >= 10 and result.offline_edits >= 20 and result.restarts == 2
    # Deltas, not full state: the whole replay moved less than 40 B per edit on average
    # (the final document alone is about 21 kB; resending it per edit would be ~500 MB).
    assert result.bytes < 40 * len(trace.txns), result.summary()


def test_a_client_that_loses_offline_edits_is_caught_by_the_replay():
    """The replay can fail: a client that drops what was typed offline never converges."""
    trace = need("friendsforever")

    class Forgetful(SOLUTION.Client):  # type: ignore[misc, name-defined]
        def connect(self):
            # Ask for the room's state but never offer our own: offline edits stay here.
            messages = super().connect()
            self.online = True
            return messages

        def receive(self, message):
            replies = super().receive(message)
            return [] if message[:2] == b"\x00\x00" else replies  # ignore the room's step 1

    short = traces.Trace(trace.name, trace.start, "", trace.txns[:3000], trace.agents, True)
    authored = traces.author_concurrent(short)
    result = traces.replay_concurrent(
        short, SOLUTION.Room, Forgetful, seed=3, drop_rate=0.01, restarts=0, authored=authored
    )
    assert not result.converged
    assert result.stuck or len(set(result.replicas)) > 1, result.summary()


def test_the_sequential_trace_format_reaches_end_content():
    trace = need("automerge-paper")
    assert not trace.concurrent and len(trace.txns) == 259_778
    short = traces.Trace(trace.name, trace.start, "", trace.txns[:2000], 1, False)
    updates = traces.author_sequential(short)
    assert len(updates) == 2000
    # Whatever the prefix typed, replaying its updates on a fresh doc gives the same text.
    from pycrdt import Doc, Text

    doc: Doc = Doc()
    text = doc.get("text", type=Text)
    for update in updates:
        doc.apply_update(update)
    expected = ""
    for txn in short.txns:
        for position, deleted, inserted in txn.patches:
            expected = expected[:position] + inserted + expected[position + deleted :]
    assert str(text) == expected and len(expected) > 1000


def test_a_missing_trace_folder_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("RTLAB_TRACES", str(tmp_path))
    reason = traces.missing("friendsforever")
    assert reason is not None and str(tmp_path) in reason and "RTLAB_TRACES" in reason
    with pytest.raises(FileNotFoundError, match="not part of the course"):
        traces.load.__wrapped__("friendsforever")


def test_the_relay_benchmark_carries_a_trace_prefix_through_every_server():
    """The benchmark's machinery on 500 edits (figures come from `make bench`, not here)."""
    import asyncio

    from pycrdt import Doc

    from rtlab.topics.collaboration import bench, node

    trace = need("automerge-paper")
    short = traces.Trace(trace.name, trace.start, "", trace.txns[:500], 1, False)
    updates = traces.author_sequential(short)
    final: Doc = Doc()
    for update in updates:
        final.apply_update(update)

    async def run_all():
        results = {}
        kinds = [k for k in bench.SERVERS if k != "node" or node.missing() is None]
        for kind in kinds:
            server = await bench.ServerProcess.start(kind)
            try:
                results[kind] = await bench.relay(server, updates, final.get_state())
            finally:
                await server.stop()
        return results

    results = asyncio.run(asyncio.wait_for(run_all(), 120))
    for kind in ("course", "course-unmerged"):
        result = results[kind]
        assert result.converged and result.missing_chars == 0, result.row()
        assert result.cpu_seconds is not None and result.cpu_seconds > 0
    assert results["course-unmerged"].received == 500  # one message per update
    assert "edits/s" in results["course"].row()
