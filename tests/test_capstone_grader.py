"""The capstone grader: every fault in every schedule, failures that name their seed and
show a timeline across all servers, a known-bad assembly per earlier module's sharp edge.

The checks every grader gets (stub fails, solution passes, known-bad variants fail
exactly their IDs, known-good ones pass) live in tests/test_graders.py; the budget of
the whole grade is measured by ``make bench`` and printed here, not asserted (a loaded
2-core machine is no place for a wall-clock assertion).
"""

from __future__ import annotations

import time
from functools import cache
from pathlib import Path

from rtlab.grading import Report, grade_file
from rtlab.learner import load_module
from rtlab.topics.capstone import grader
from rtlab.topics.capstone.sim import chaos_schedule, lesson_schedule, run

ROOT = Path(__file__).resolve().parent.parent
BAD = {p.stem.removeprefix("capstone_"): p for p in (ROOT / "tests" / "known_bad").glob(
    "capstone_*.py")}
GOOD = {p.stem.removeprefix("capstone_") for p in (ROOT / "tests" / "known_good").glob(
    "capstone_*.py")}
KINDS = {"restart", "deploy", "redis-restart", "half-open", "idle", "slow-client", "outage",
         "blip", "quit"}


@cache
def graded(name: str) -> Report:
    return grade_file("capstone", BAD[name])


def solution() -> object:
    return load_module(ROOT / "solutions" / "capstone.py", "capstone_grader_solution")


def test_at_least_50_schedules_each_with_every_kind_of_fault():
    assert len(grader.SEEDS) >= 50
    for seed in grader.SEEDS:
        schedule = chaos_schedule(seed)
        assert {f.kind for f in schedule.faults} == KINDS, f"seed {seed}"
        assert 2 <= len(schedule.servers) <= 3 and schedule.tabs >= 10
        storm = sum(f.storm for f in schedule.faults)
        assert schedule.tabs + storm >= 16, f"seed {seed}: only {schedule.tabs + storm} tabs"


def test_the_grade_of_the_reference_is_measured(capsys):
    started, cpu = time.perf_counter(), time.process_time()
    report = grader.grade(solution())  # type: ignore[arg-type]
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert report.passed and report.scenarios == len(grader.SEEDS)
    with capsys.disabled():
        print(f"\n  capstone grade: {report.scenarios} schedules, {wall:.2f} s wall, "
              f"{cpu:.2f} s CPU (budget 10 s, see make bench)")


def test_there_is_a_known_bad_assembly_for_each_earlier_modules_sharp_edge():
    wanted = {"room_without_backfill": "join-without-backfill",
              "backoff_without_jitter": "websocket-thundering-herd",
              "presence_without_grace": "presence-immediate-removal",
              "no_heartbeat": "missing-heartbeat",
              "unbounded_queue": "unbounded-message-queue",
              "no_backplane": "socket-io-no-adapter",
              "shows_on_arrival": "missing-message-ordering",
              "forgets_offline_posts": "reconnection-state-loss",
              "server_trusts_the_socket": "half-open-connection-ghost",
              "heartbeat_over_proxy_timeout": "websocket-proxy-timeout",
              "backoff_no_cap": "missing-reconnection-logic"}
    assert set(wanted) <= set(BAD), f"missing: {sorted(set(wanted) - set(BAD))}"
    assert len(GOOD) >= 2
    for name, id in wanted.items():
        assert id in graded(name).failed_ids(), f"{name} should fail {id}"


def test_a_failure_names_its_seed_and_shows_the_schedule_across_all_servers():
    finding = graded("backoff_without_jitter").finding("websocket-thundering-herd")
    assert finding.seed in grader.SEEDS
    text = "\n".join(finding.timeline)
    assert f"seed {finding.seed}" in text
    assert "this schedule trips: websocket-thundering-herd" in text
    schedule = chaos_schedule(finding.seed)
    for fault in schedule.faults:
        assert fault.describe() in text
    assert any(f"{name} starts" in text for name in schedule.servers)


def test_the_stub_fails_every_check_saying_what_is_left_to_do():
    report = grade_file("capstone", ROOT / "exercises" / "capstone.py")
    assert report.failed_ids() == set(grader.IDS)
    assert all("TODO" in f.observed for f in report.findings)


def test_glue_that_raises_stops_the_run_and_says_where(tmp_path: Path):
    broken = tmp_path / "capstone.py"
    broken.write_text("from solutions.capstone import *\n"
                      "from solutions import capstone\n"
                      "class AppServer(capstone.AppServer):\n"
                      "    def published(self, message, now):\n"
                      "        raise KeyError('seq')\n")
    report = grade_file("capstone", broken, seeds=[grader.SEEDS[0]])
    assert report.failed_ids() == set(grader.IDS)
    observed = report.findings[0].observed
    assert "AppServer.published raised" in observed and "KeyError" in observed


def test_a_seed_replays_exactly():
    module = solution()
    a = run(module, chaos_schedule(grader.SEEDS[3]))  # type: ignore[arg-type]
    b = run(module, chaos_schedule(grader.SEEDS[3]))  # type: ignore[arg-type]
    assert a.timeline == b.timeline and a.shown == b.shown


def test_the_lesson_schedule_has_every_kind_of_fault_and_the_reference_survives_it():
    schedule = lesson_schedule()
    assert {f.kind for f in schedule.faults} == KINDS
    trace = run(solution(), schedule)  # type: ignore[arg-type]
    assert trace.error is None
    result = grader.Run(schedule.seed, schedule, trace)
    failed = {id: v.observed for id, v in grader.verdicts(result).items()
              if v.status == "failed"}
    assert not failed, failed
