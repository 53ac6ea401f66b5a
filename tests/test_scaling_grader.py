"""The scaling-out grader: fast enough, fair schedules, failures that replay.

The checks every grader gets (stub fails, solution passes, known-bad variants fail
exactly their IDs, known-good ones pass) live in tests/test_graders.py.
"""

from __future__ import annotations

from pathlib import Path

from rtlab.learner import load_module
from rtlab.topics.scaling_out import grader
from rtlab.topics.scaling_out.sim import graded_schedule, run

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = load_module(ROOT / "solutions" / "scaling.py", "scaling_grader_solution")
BAD = {p.stem.removeprefix("scaling_") for p in (ROOT / "tests" / "known_bad").glob("scaling_*.py")}
GOOD = {p.stem.removeprefix("scaling_")
        for p in (ROOT / "tests" / "known_good").glob("scaling_*.py")}


def test_the_reference_passes_200_scenarios():
    report = grader.grade(SOLUTION)
    assert report.passed and report.scenarios == 200


def test_there_is_a_known_bad_variant_for_each_subtle_mistake_of_the_issue():
    wanted = {"no_backplane", "echoes_own_message", "resumes_from_dollar",
              "presence_without_ttl", "session_in_memory", "ignores_last_seen",
              "replays_from_start", "crashes_on_garbage"}
    assert wanted <= BAD, f"missing known-bad variants: {sorted(wanted - BAD)}"
    assert {"streams_alone", "pubsub_payload"} <= GOOD


def test_every_schedule_has_faults_and_a_room_spread_over_servers():
    for seed in grader.SEEDS:
        schedule = graded_schedule(seed)
        faults = (schedule.redis_down or schedule.blips
                  or any(len(life.lives) > 1 or life.drains for life in schedule.servers))
        assert faults, f"seed {seed} has no fault"
        first = {p.sessions[0].server for p in schedule.clients}
        assert len(first) >= 2, f"seed {seed}: every client starts on one server"


def test_every_kind_of_fault_is_common():
    kinds = {"death": 0, "drain": 0, "redis": 0, "blip": 0, "garbage": 0, "moved": 0}
    for seed in grader.SEEDS:
        s = graded_schedule(seed)
        kinds["death"] += any(len(life.lives) > 1 for life in s.servers)
        kinds["drain"] += any(life.drains for life in s.servers)
        kinds["redis"] += bool(s.redis_down)
        kinds["blip"] += bool(s.blips)
        kinds["garbage"] += bool(s.garbage)
        kinds["moved"] += any(len({x.server for x in p.sessions}) > 1 for p in s.clients)
    assert all(count >= 40 for count in kinds.values()), kinds


def test_a_scenario_replays_exactly_from_its_seed():
    first = run(SOLUTION.Relay, graded_schedule(10_007))
    again = run(SOLUTION.Relay, graded_schedule(10_007))
    assert first.deliveries == again.deliveries and first.timeline == again.timeline
    assert first.deliveries, "the scenario delivered nothing"


def test_a_failure_names_the_message_the_client_and_a_timeline():
    bad = load_module(ROOT / "tests" / "known_bad" / "scaling_ignores_last_seen.py",
                      "scaling_grader_ignores")
    finding = grader.grade(bad).finding("sticky-session-bypass")
    assert finding.status == "failed" and finding.seed is not None
    assert "last_seen=" in finding.observed and "never got it" in finding.observed
    assert any("join(" in row for row in finding.timeline), finding.timeline
