"""The presence grader fails what is wrong, with the right ID, and passes what is right.

The checks every grader gets (stub fails, solution passes, known-bad variants
fail exactly their IDs, known-good ones pass) live in tests/test_graders.py.

Every known-bad variant in tests/known_bad/presence_*.py declares the exact set of
IDs it must fail (EXPECTED); every variant in tests/known_good/presence_*.py is a
correct tracker written differently from ours and must pass.
"""

from __future__ import annotations

import itertools
import time
from functools import cache
from pathlib import Path

from rtlab.grading import Report, grade_file
from rtlab.learner import load_module
from rtlab.topics.presence import grader as grader
from rtlab.topics.presence.sim import SCENARIO_SECONDS, TOLERANCE, graded_schedule, sessions

ROOT = Path(__file__).resolve().parent.parent
ALL_IDS = {"presence-immediate-removal", "presence-flickering"}
BAD = sorted((ROOT / "tests" / "known_bad").glob("presence_*.py"))
GOOD = sorted((ROOT / "tests" / "known_good").glob("presence_*.py"))


@cache
def graded(path: Path) -> Report:
    return grade_file("presence", path)


def describe(report: Report) -> str:
    return "\n".join(f"  {f.id}: {f.status}: {f.observed}" for f in report.findings)


def test_the_reference_passes_200_scenarios():
    module = load_module(ROOT / "solutions" / "presence.py", "presence_timing")
    report = grader.grade(module)
    assert report.scenarios == 200


def test_there_is_a_known_bad_variant_for_each_listed_sharp_edge():
    names = {p.stem.removeprefix("presence_") for p in BAD}
    wanted = {"immediate_removal", "timer_not_cancelled", "per_connection", "no_ttl",
              "timer_fires_twice"}
    assert wanted <= names, f"missing known-bad variants: {sorted(wanted - names)}"


def test_every_schedule_has_one_right_answer():
    """Gaps are clearly blips or clearly departures, so the truth is never ambiguous."""
    for seed in grader.SEEDS:
        schedule = graded_schedule(seed)
        grace, ttl = schedule.grace, schedule.ttl
        for user, user_sessions in sessions(schedule).items():
            for before, after in itertools.pairwise(user_sessions):
                assert before.end is not None
                assert after.start > before.latest + 0.5, (seed, user)
            for s in user_sessions:
                ordered = sorted(s.conns, key=lambda c: c.opened)
                for i, c in enumerate(ordered[1:], start=1):
                    earlier = ordered[:i]
                    if any(e.alive_until is None or e.alive_until > c.opened for e in earlier):
                        continue  # overlaps a live connection
                    closes = [e.ended for e in earlier if e.how == "close" and e.ended]
                    crashes = [e.last_sign for e in earlier if e.how == "crash"]
                    near_close = any(c.opened - t < 0.7 * grace + 1e-9 for t in closes)
                    near_crash = any(c.opened - t < ttl for t in crashes)
                    assert near_close or near_crash, (seed, user, c.id)
        assert schedule.until >= max(
            (s.latest for ss in sessions(schedule).values() for s in ss if s.end), default=0
        ), seed
        assert min(grace, ttl) > TOLERANCE


def test_every_kind_of_user_appears_in_every_schedule():
    schedule = graded_schedule(grader.SEEDS[0])
    assert sorted(schedule.roles.values()) == sorted(
        ["steady", "blipper", "flappy", "multitab", "handoff", "leaver", "crasher",
         "crash_return"])
    assert any(c.late_close for s in grader.SEEDS[:20] for c in graded_schedule(s).conns)


def test_a_failure_names_the_seed_expected_observed_a_hint_and_a_reference():
    report = graded(ROOT / "tests" / "known_bad" / "presence_immediate_removal.py")
    finding = report.finding("presence-flickering")
    assert finding.seed is not None
    assert finding.expected and finding.observed and finding.hint
    assert finding.reference == "references/sharp_edges.md#presence-flickering"
    assert any("disconnect(" in row for row in finding.timeline), finding.timeline
    assert finding.figure_png, "a presence timeline of the failing run should be attached"
    text = str(report)
    for part in (f"--seed {finding.seed}", "expected", "observed", "hint", "read"):
        assert part in text, f"{part!r} missing from the text report:\n{text}"
    html = report._repr_html_()
    assert "<img" in html and "presence-immediate-removal" in html


def test_replaying_the_reported_seed_reproduces_the_same_failure():
    path = ROOT / "tests" / "known_bad" / "presence_no_ttl.py"
    finding = graded(path).finding("presence-immediate-removal")
    assert "ghost" in finding.observed
    again = grade_file("presence", path, seeds=[finding.seed]).finding(
        "presence-immediate-removal")
    assert (again.status, again.observed) == (finding.status, finding.observed)


def test_events_that_are_not_pairs_are_explained(tmp_path: Path):
    wrong = tmp_path / "presence.py"
    wrong.write_text(
        "from solutions.presence import PresenceTracker as Reference\n"
        "class PresenceTracker(Reference):\n"
        "    def connect(self, user, conn, now):\n"
        "        return ['join ' + user] if super().connect(user, conn, now) else []\n"
    )
    report = grade_file("presence", wrong)
    assert report.failed_ids() == ALL_IDS
    assert "each event must be a pair" in report.finding("presence-flickering").observed


def test_a_tracker_that_never_returns_is_stopped(tmp_path: Path):
    hangs = tmp_path / "presence.py"
    hangs.write_text(
        "from solutions.presence import PresenceTracker as Reference\n"
        "class PresenceTracker(Reference):\n"
        "    def tick(self, now):\n"
        "        while now > 30:\n"
        "            pass\n"
        "        return super().tick(now)\n"
    )
    started = time.perf_counter()
    report = grade_file("presence", hangs)
    assert time.perf_counter() - started < SCENARIO_SECONDS + 5
    assert report.failed_ids() == ALL_IDS
    assert "did not finish within" in report.finding("presence-immediate-removal").observed


def test_none_is_accepted_as_no_events():
    module = load_module(ROOT / "solutions" / "presence.py", "presence_none")
    original = module.PresenceTracker.disconnect

    def disconnect(self, user, conn, now):  # forgot `return []`
        original(self, user, conn, now)

    module.PresenceTracker.disconnect = disconnect
    report = grader.grade(module, seeds=grader.SEEDS[:20])
    assert report.passed, describe(report)
