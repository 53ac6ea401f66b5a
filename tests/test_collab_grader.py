"""The collab grader and its simulated world: what is particular to them.

The checks every grader gets (stub fails, solution passes, known-bad variants
fail exactly their IDs, known-good ones pass) live in tests/test_graders.py.
"""

from __future__ import annotations

import subprocess
import sys
import time
from functools import cache
from pathlib import Path

from rtlab.grading import Report, grade_file
from rtlab.learner import load_module
from rtlab.topics.collaboration import grader
from rtlab.topics.collaboration.sim import GARBAGE, SCENARIO_SECONDS, World, graded_world, plan

ROOT = Path(__file__).resolve().parent.parent
ALL_IDS = set(grader.IDS)
BAD = sorted((ROOT / "tests" / "known_bad").glob("collab_*.py"))


@cache
def graded(path: Path) -> Report:
    return grade_file("collab", path)


@cache
def reference():  # the solution module, loaded once
    return load_module(ROOT / "solutions" / "collab.py", "collab_reference")


def describe(report: Report) -> str:
    return "\n".join(f"  {f.id}: {f.status}: {f.observed}" for f in report.findings)


def test_the_reference_passes_200_worlds():
    """Its speed is measured by `make bench` (grader: 200 worlds in about 0.9 s idle)."""
    report = grader.grade(reference())
    assert report.passed, describe(report)
    assert report.scenarios == 200


def test_there_is_a_known_bad_variant_for_each_sharp_edge_of_the_issue():
    names = {p.stem.removeprefix("collab_") for p in BAD}
    wanted = {"last_write_wins", "full_state_broadcast", "drops_updates_while_syncing",
              "no_awareness_removal", "loses_offline_edits"}
    assert wanted <= names, f"missing known-bad variants: {sorted(wanted - names)}"


def test_the_graded_worlds_hold_every_fault_the_docstring_promises():
    plans = [plan(seed) for seed in grader.SEEDS]
    race = [p for p in plans if p.family == "race"]
    reconnect = [p for p in plans if p.family == "reconnect"]
    assert len(race) == len(reconnect) == 100
    assert {p.editors for p in plans} == {2, 3, 4}
    assert all(p.garbage for p in race)
    assert {message for p in race for _, _, message in p.garbage} == {m for _, m in GARBAGE}
    assert sum(bool(p.cuts) for p in reconnect) > 80
    assert sum(bool(p.restarts) for p in reconnect) > 30
    assert sum(bool(p.late) for p in reconnect) > 40
    assert sum(p.leaver is not None for p in reconnect) > 10
    world, p = graded_world(reference().Room, reference().Client, grader.SEEDS[1])
    world.run_until(p.until)
    world.finish()
    lines = world.timeline()
    assert any("edits offline" in line for line in lines)
    assert any("link cut" in line for line in lines)


def test_duplicated_and_reordered_updates_reach_the_room():
    """Some reconnect worlds make the room receive an update before one it depends on."""
    resent = 0
    for seed in grader.SEEDS[1:60:2]:
        world, p = graded_world(reference().Room, reference().Client, seed)
        world.run_until(p.until)
        resent += sum("outbox sends again" in line for line in world.timeline())
    assert resent > 10


def test_a_world_is_the_same_in_every_process():
    """Learner code may iterate sets, whose order changes with PYTHONHASHSEED: the run must not."""
    code = (
        "import sys; sys.path.insert(0, '.');"
        "from solutions.collab import Room, Client;"
        "from rtlab.topics.collaboration.sim import graded_world;"
        "w, p = graded_world(Room, Client, 9003); w.run_until(p.until); w.finish();"
        "print(len(w.log), w.timeline()[-1], sorted(w.texts().items()))"
    )
    outputs = {
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                       env={"PYTHONHASHSEED": str(seed)}, check=True).stdout
        for seed in (1, 2, 3)
    }
    assert len(outputs) == 1, outputs


def test_offline_edits_merge_on_reconnect_in_a_hand_built_world():
    module = reference()
    world = World(module.Room, module.Client, seed=1, editors=2, initial="Hello")
    world.start()
    world.settle()
    world.cut(2, notice=0.0)
    world.edit(2, "insert", 0, "offline ")
    world.edit(1, "insert", 5, "!")
    world.run(1.0)
    assert world.texts() == {1: "Hello!", 2: "offline Hello"}
    world.reconnect(2)
    world.settle()
    assert world.texts() == {1: "offline Hello!", 2: "offline Hello!"}
    assert world.truth_content()[0] == "offline Hello!"


def test_a_failure_names_the_seed_expected_observed_a_timeline_and_a_figure():
    report = graded(ROOT / "tests" / "known_bad" / "collab_no_awareness_removal.py")
    finding = report.finding("awareness-ghost")
    assert finding.seed is not None and finding.expected and finding.observed and finding.hint
    assert finding.reference == "references/validations.md#awareness-ghost"
    assert any("Room.leave(" in row for row in finding.timeline), finding.timeline
    assert finding.figure_png, "a timeline of the failing world should be attached"
    text = str(report)
    for part in (f"--seed {finding.seed}", "expected", "observed", "hint", "read"):
        assert part in text, f"{part!r} missing from the text report:\n{text}"


def test_a_lost_edit_is_named_with_its_author_time_and_how_it_was_sent():
    report = graded(ROOT / "tests" / "known_bad" / "collab_loses_offline_edits.py")
    observed = report.finding("reconnection-state-loss").observed
    assert "ended without" in observed and "made offline" in observed, observed
    assert "local_update returned []" in observed, observed


def test_the_stub_reads_as_a_todo():
    report = graded(ROOT / "exercises" / "collab.py")
    assert report.failed_ids() == ALL_IDS
    assert "still a TODO" in report.finding("message-ordering-race").observed


def test_a_room_that_never_returns_is_stopped(tmp_path: Path):
    hangs = tmp_path / "collab.py"
    hangs.write_text(
        "from solutions.collab import Client, Room as Reference\n"
        "class Room(Reference):\n"
        "    def leave(self, client):\n"
        "        while True:\n"
        "            pass\n"
    )
    started = time.perf_counter()
    report = grade_file("collab", hangs, seeds=grader.SEEDS[:4])
    assert time.perf_counter() - started < SCENARIO_SECONDS + 5
    assert "did not finish within" in report.finding("awareness-ghost").observed


def test_wrong_return_types_are_explained(tmp_path: Path):
    wrong = tmp_path / "collab.py"
    wrong.write_text(
        "from solutions.collab import Room, Client as Reference\n"
        "class Client(Reference):\n"
        "    def connect(self):\n"
        "        return super().connect()[0]  # bytes, not a list of bytes\n"
    )
    report = grade_file("collab", wrong, seeds=grader.SEEDS[:2])
    assert report.failed_ids() == ALL_IDS
    observed = report.finding("message-ordering-race").observed
    assert "connect()" in observed and "expected a list of message bytes" in observed, observed


def test_none_is_accepted_as_nothing_to_send():
    module = load_module(ROOT / "solutions" / "collab.py", "collab_none")
    original = module.Client.disconnect
    leave = module.Room.leave

    def disconnect(self):
        original(self)

    def quiet_leave(self, client):
        out = leave(self, client)
        return out or None

    module.Client.disconnect = disconnect
    module.Room.leave = quiet_leave
    report = grader.grade(module, seeds=grader.SEEDS[:20])
    assert report.passed, describe(report)
