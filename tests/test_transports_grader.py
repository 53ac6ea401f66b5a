"""What is particular to the transports grader (tests/test_graders.py proves the rest)."""

from __future__ import annotations

import types
from collections import Counter
from pathlib import Path

from rtlab.learner import load_module
from rtlab.topics.transports.grader import IDS, SEEDS, acceptable, grade
from rtlab.topics.transports.sim import NAMED, profile

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = load_module(ROOT / "solutions" / "transports.py", "transports_solution_particular")


def learner(choose, needs=SOLUTION.Needs) -> types.ModuleType:
    module = types.ModuleType("learner")
    module.Needs, module.choose_transport = needs, choose
    return module


def test_the_named_features_get_the_answers_the_lesson_teaches():
    taught = {
        "live ops dashboard": {"sse"},
        "team chat with typing indicators": {"websocket"},
        "collaborative text editor": {"websocket"},
        "notification bell": {"sse"},
        "stock ticker": {"sse"},
        "multiplayer cursors": {"websocket"},
        "nightly sales report": {"polling"},
        "CI build progress bar": {"sse"},
        "chat behind a corporate proxy": {"long-polling"},
        "parcel tracking page": {"polling"},
        "lab sensor plot with binary samples": {"sse", "websocket"},
        "dashboard behind a buffering proxy": {"long-polling"},
        "multiplayer game": {"websocket"},
        "weather widget": {"polling"},
        "live sports scores": {"sse"},
        "AI answer streamed token by token": {"sse"},
    }
    assert {p.feature: set(acceptable(p)[0]) for p in NAMED} == taught


def test_profiles_are_seeded_and_clear_of_the_waiting_line_and_cover_every_rule():
    assert profile(1234) == profile(1234) != profile(1235)
    profiles = [profile(seed) for seed in SEEDS]
    assert len(profiles) >= 200
    assert all(p.noticed_within <= 10 or p.noticed_within >= 120 for p in profiles)
    kinds = Counter(frozenset(acceptable(p)[0]) for p in profiles)
    for answers in ({"polling"}, {"long-polling"}, {"sse"}, {"websocket"}, {"sse", "websocket"}):
        assert kinds[frozenset(answers)] >= 10, (answers, kinds)


def test_feedback_names_the_profile_the_answer_what_was_acceptable_and_the_cost():
    report = grade(learner(lambda needs: "polling"), seeds=[0])
    finding = report.finding("polling-as-realtime")
    assert finding.status == "failed" and finding.seed == 0
    assert "'live ops dashboard'" in finding.observed and "returned 'polling'" in finding.observed
    # Polling every 2 s for 200 clients: 6,000 requests a minute, most of them empty.
    assert "6,000 requests a minute" in finding.observed
    assert finding.expected == "'sse' for this feature"
    assert "Instead: Only the server talks, and users wait: SSE" in finding.observed
    assert report.finding("websocket-for-everything").status == "passed"


def test_choosing_above_what_the_feature_needs_is_websocket_for_everything():
    report = grade(learner(lambda needs: "sse"), seeds=[6])  # the nightly report
    assert report.failed_ids() == {"websocket-for-everything"}
    assert "news nobody waits for" in report.finding("websocket-for-everything").observed


def test_a_choice_that_hangs_is_stopped_with_a_message_and_fails_both():
    def forever(needs):
        while True:
            pass

    report = grade(learner(forever), seeds=[0, 1])
    assert report.failed_ids() == set(IDS) and report.scenarios == 1
    assert "did not finish" in report.finding(IDS[0]).observed


def test_a_needs_class_with_other_fields_gets_a_clear_error():
    class Renamed:
        def __init__(self, name: str) -> None:
            self.name = name

    report = grade(learner(lambda needs: "sse", needs=Renamed), seeds=[0])
    assert report.failed_ids() == set(IDS)
    observed = report.finding(IDS[0]).observed
    assert "Needs(feature, client_streams" in observed and "TypeError" in observed
