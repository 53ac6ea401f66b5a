"""The SSE grader's scenarios test what they claim, and its bounds have room to spare.

The checks every grader gets (stub fails, solution passes, known-bad variants
fail exactly their IDs, known-good ones pass) live in tests/test_graders.py.
"""

from __future__ import annotations

import random
from pathlib import Path
from types import ModuleType

import pytest

from rtlab.learner import load_module
from rtlab.topics.server_sent_events import grader as grader
from rtlab.topics.server_sent_events import sim as sim
from rtlab.topics.server_sent_events.sim import (
    BROWSER_RETRY_MS,
    FLOOD_CLIENTS,
    flood_scenario,
    resume_scenario,
)

ROOT = Path(__file__).resolve().parent.parent
BAD = sorted((ROOT / "tests" / "known_bad").glob("sse_*.py"))


@pytest.fixture(scope="module")
def reference() -> ModuleType:
    return load_module(ROOT / "solutions" / "sse.py", "sse_reference")


def test_the_reference_passes_220_scenarios(reference):
    report = grader.grade(reference)
    assert report.passed, report
    assert report.scenarios == 220


def test_there_is_a_known_bad_variant_for_each_listed_sharp_edge():
    names = {p.stem.removeprefix("sse_") for p in BAD}
    wanted = {"no_retry_line", "retry_100ms", "no_ids", "naive_data_line", "replay_from_start",
              "off_by_one_replay", "ignores_last_event_id", "silent_gap_after_overflow",
              "no_epoch", "fixed_delay_retry", "backoff_without_cap", "backoff_never_resets",
              "retries_on_204", "backoff_without_jitter"}
    assert wanted <= names, f"missing known-bad variants: {sorted(wanted - names)}"


def test_the_resume_scenarios_exercise_every_fault(reference):
    runs = [resume_scenario(reference, seed) for seed in grader.SEEDS]
    assert all(not run.problems for run in runs)
    restarts = sum(run.restart is not None for run in runs)
    mid_event = sum(1 for run in runs for c in run.clients for _, what in c.history
                    if what.startswith("cut in the middle"))
    opens = [o for run in runs for c in run.clients for o in c.opens]
    resumed = [o for o in opens if o[1] is not None]
    replays = [o for o in resumed if o[2] > 0 and not o[3]]
    resyncs = [o for o in resumed if o[3]]
    assert 120 <= restarts <= 180, restarts
    assert mid_event >= 220, mid_event  # measured: 294
    assert len(replays) >= 380 and len(resyncs) >= 550, (len(replays), len(resyncs))  # 513, 735
    # Resyncs come from both causes: an overflow within one life, and a restart.
    overflow = [o for run in runs for c in run.clients for o in c.opens
                if o[3] and (run.restart is None or o[0] < run.restart[0])]
    restarted = [o for run in runs if run.restart for c in run.clients for o in c.opens
                 if o[3] and o[0] > run.restart[1]]
    # measured: 263 and 472
    assert len(overflow) >= 200 and len(restarted) >= 350, (len(overflow), len(restarted))


def test_the_boundary_clients_sit_exactly_on_the_edge_of_the_log(reference):
    for seed in grader.SEEDS[:50]:
        run = resume_scenario(reference, seed)
        clients = {c.name: c for c in run.clients}
        # opens: the first visit, then the boundary reopen
        _, header, replayed, resync = clients["edge-replay"].opens[1]
        assert header is not None and replayed == run.capacity and not resync, seed
        _, header, replayed, resync = clients["edge-resync"].opens[1]
        assert header is not None and replayed == 0 and resync, seed


def test_a_stream_without_retry_leaves_browsers_on_their_3_s_default(reference):
    class NoRetry(reference.EventLog):  # type: ignore[name-defined,misc]
        def open(self, last_event_id):
            return super().open(last_event_id).removeprefix("retry: 10000\n\n")

    module = ModuleType("no_retry")
    module.EventLog = NoRetry
    run = resume_scenario(module, grader.SEEDS[0])
    assert all(c.retry_ms == BROWSER_RETRY_MS for c in run.clients)
    assert grader.RETRY in run.problems


def test_the_reference_clears_the_flood_bounds_with_room_to_spare(reference):
    margins = grader.describe_margins(reference)
    assert margins["attempts per client in the last minute"] <= grader.MAX_ATTEMPTS_PER_CLIENT * 0.7
    assert margins["peak share in 1 s"] <= grader.PEAK_SHARE * 0.7
    assert margins["recovery s"] <= grader.RECOVERY_BOUND * 0.75
    assert margins["back after blip s"] <= grader.RESET_BOUND * 0.7


def test_a_browser_like_fixed_3_s_retry_floods_a_failing_endpoint():
    """What EventSource would do if it retried errors: 20 attempts per client per minute."""

    class Every3s:
        def __init__(self, rng: random.Random, base: float, cap: float) -> None:
            pass

        def opened(self) -> None:
            pass

        def failed(self, status: int | None) -> float | None:
            return None if status == 204 else 3.0

    run = flood_scenario(lambda rng: Every3s(rng, 1.0, 30.0), grader.FLOOD_SEEDS[0])
    assert len(grader.rate_window(run)) == pytest.approx(20 * FLOOD_CLIENTS, rel=0.05)
    assert grader.check_flood(run).status == "failed"


def test_scenarios_replay_exactly_from_their_seed(reference):
    one, two = (resume_scenario(reference, 3007) for _ in range(2))
    assert [c.history for c in one.clients] == [c.history for c in two.clients]
    policy = lambda rng: reference.RetryPolicy(rng, 1.0, 30.0)  # noqa: E731
    a, b = flood_scenario(policy, 3503), flood_scenario(policy, 3503)
    assert [c.attempts for c in a.clients] == [c.attempts for c in b.clients]


def test_learner_code_that_hangs_gets_a_clear_message(reference, monkeypatch):
    monkeypatch.setattr(sim, "SCENARIO_SECONDS", 0.5)

    class Hangs(reference.RetryPolicy):  # type: ignore[name-defined,misc]
        def failed(self, status):
            while True:
                pass

    module = ModuleType("hangs")
    module.__dict__.update(vars(reference))
    module.RetryPolicy = Hangs
    finding = grader.grade(module, seeds=[grader.SEEDS[0]]).finding(grader.FLOOD)
    assert finding.status == "failed"
    assert "did not finish within 0.5 s" in finding.observed


def test_a_log_that_returns_bytes_is_told_to_return_str(reference):
    class Bytes(reference.EventLog):  # type: ignore[name-defined,misc]
        def publish(self, data, event=None):
            return super().publish(data, event).encode()

    module = ModuleType("bytes")
    module.__dict__.update(vars(reference))
    module.EventLog = Bytes
    report = grader.grade(module, seeds=[grader.SEEDS[0]])
    observed = report.finding(grader.STATE).observed
    assert "not the str to send" in observed, observed
