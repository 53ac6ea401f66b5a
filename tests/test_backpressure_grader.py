"""The backpressure grader: fast enough, its schedules exercise what they claim, its
measures measure. (Stub fails, solution passes, variants: tests/test_graders.py.)"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from rtlab.grading import grade_file
from rtlab.learner import load_module
from rtlab.topics.backpressure import grader
from rtlab.topics.backpressure.sim import FAST, CountingEncoder, held_bytes, run, scenario

ROOT = Path(__file__).resolve().parent.parent
BAD = sorted((ROOT / "tests" / "known_bad").glob("backpressure_*.py"))


def reference():  # type: ignore[no-untyped-def]
    return load_module(ROOT / "solutions" / "backpressure.py", "backpressure_reference")


def test_the_reference_passes_200_scenarios():
    module = reference()
    report = grader.grade(module)
    assert report.scenarios == 200 and report.passed


def test_there_is_a_known_bad_variant_for_each_subtle_mistake_of_the_issue():
    names = {p.stem.removeprefix("backpressure_") for p in BAD}
    wanted = {"unbounded", "counts_messages", "coalesce_keeps_first", "trailing_only",
              "stale_permissions", "format_per_recipient", "query_per_recipient",
              "lockstep", "throttle_drops_last"}
    assert wanted <= names, f"missing known-bad variants: {sorted(wanted - names)}"


def test_the_schedules_have_slow_paused_stopped_and_vanishing_clients_and_bursts():
    roles: Counter[str] = Counter()
    for seed in grader.SEEDS:
        s = scenario(seed)
        roles.update(c.role for c in s.clients)
        assert sum(c.rate >= FAST and not c.pauses for c in s.clients) >= 2
        assert {p.kind for p in s.publishes} == {"event", "live", "cursor"}
    for role in ("slow", "paused", "stopped", "vanishing", "guest", "late"):
        assert roles[role] >= 40, f"only {roles[role]} {role} clients in 200 scenarios"


def test_a_seed_replays_exactly():
    module = reference()
    one, two = run(module.Room, scenario(8042)), run(module.Room, scenario(8042))
    assert one.closes == two.closes and one.queries == two.queries
    assert [(d.t, d.size) for d in one.deliveries["c1"]] == [
        (d.t, d.size) for d in two.deliveries["c1"]]


def test_the_reference_resyncs_stopped_readers_and_never_a_fast_one():
    module = reference()
    closed: Counter[str] = Counter()
    for seed in grader.SEEDS[:60]:
        s = scenario(seed)
        trace = run(module.Room, s)
        for _, name, code in trace.closes:
            assert code == 4000
            closed[s.client(name).role] += 1
    assert closed["stopped"] >= 20, closed
    assert closed["fast"] == closed["late"] == closed["guest"] == 0, closed


def test_held_bytes_counts_a_frame_once_per_reference_and_ignores_other_bytes():
    encode = CountingEncoder()
    frame = encode({"kind": "event", "key": "k", "body": {"n": 0}})

    class Box:
        def __init__(self) -> None:
            self.queues = {"a": [frame], "b": [frame], "c": [b"not ours"]}
            self.helper = print  # functions lead out of the room: not followed

    assert held_bytes(Box(), encode.by_id, set()) == 2 * len(frame)


def test_a_failure_gives_seed_and_timeline_and_replays():
    report = grade_file("backpressure", ROOT / "tests" / "known_bad" / "backpressure_unbounded.py")
    finding = report.finding("unbounded-message-queue")
    assert finding.status == "failed" and finding.seed in grader.SEEDS
    assert "max_bytes" in finding.observed and finding.timeline
    again = grade_file("backpressure", ROOT / "tests" / "known_bad" / "backpressure_unbounded.py",
                       seeds=[finding.seed]).finding(finding.id)
    assert again.observed == finding.observed
