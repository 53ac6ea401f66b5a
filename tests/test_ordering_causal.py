"""Vector clocks in the ordering lesson: causal delivery holds in every seeded run."""

from __future__ import annotations

import pytest

from rtlab.topics.ordering_and_rooms.causal import PEERS, causal_run, happened_before


def test_happened_before_is_a_strict_partial_order():
    assert happened_before({"A": 1}, {"A": 1, "B": 1})
    assert not happened_before({"A": 1}, {"A": 1})
    assert not happened_before({"A": 2}, {"B": 1}) and not happened_before({"B": 1}, {"A": 2})


@pytest.mark.parametrize("seed", range(30))
def test_every_peer_shows_every_other_peers_note_once_and_causes_first(seed):
    run = causal_run(seed)
    clocks = {label: clock for _, _, label, clock in run.sends}
    senders = {label: peer for _, peer, label, _ in run.sends}
    for peer in PEERS:
        shown = [d.label for d in sorted(run.deliveries, key=lambda d: d.delivered)
                 if d.peer == peer]
        expected = {label for label, sender in senders.items() if sender != peer}
        assert sorted(shown) == sorted(expected), (seed, peer)
        for i, later in enumerate(shown):
            for earlier in shown[i + 1:]:
                assert not happened_before(clocks[earlier], clocks[later]), (
                    f"seed {seed}: {peer} showed {later} before {earlier}, which it depends on")


def test_the_lesson_run_holds_back_replies_that_overtook_their_questions():
    run = causal_run(7)
    held = run.held_back()
    assert held, "the slow A-C link should make some reply wait"
    for d in held:
        assert d.waited_for and d.delivered > d.arrived
