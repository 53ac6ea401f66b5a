"""The heartbeat grader fails what is wrong, with the right ID, and passes what is right.

The checks every grader gets (stub fails, solution passes, known-bad variants
fail exactly their IDs, known-good ones pass) live in tests/test_graders.py.

Every known-bad variant in tests/known_bad/heartbeat_*.py declares the exact set
of IDs it must fail (EXPECTED) and a phrase its report must contain (MESSAGE);
every variant in tests/known_good/heartbeat_*.py is a correct heartbeat written
differently from ours (a fixed schedule, missed-pong counting, Socket.IO's split
between a pinging server and a checking client) and must pass.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from rtlab.grading import Report, grade_file
from rtlab.learner import load_module
from rtlab.topics.connection_health import grader as grader

ROOT = Path(__file__).resolve().parent.parent
ALL_IDS = {"missing-heartbeat", "half-open-connection-ghost", "websocket-proxy-timeout"}
BAD = sorted((ROOT / "tests" / "known_bad").glob("heartbeat_*.py"))
GOOD = sorted((ROOT / "tests" / "known_good").glob("heartbeat_*.py"))


@cache
def graded(path: Path) -> Report:
    return grader.grade(load_module(path, f"graded_{path.parent.name}_{path.stem}"))


def describe(report: Report) -> str:
    return "\n".join(f"  {f.id}: {f.status}: {f.observed}" for f in report.findings)


def test_the_grader_checks_every_id_the_module_claims():
    assert set(grader.IDS) == ALL_IDS


def test_the_reference_solution_passes_with_at_least_200_scenarios():
    report = grader.grade(load_module(ROOT / "solutions" / "heartbeat.py", "timed_solution"))
    assert report.passed, f"solutions/heartbeat.py should pass:\n{describe(report)}"
    assert report.scenarios >= 200, f"only {report.scenarios} scenarios were run"
    assert {f.id for f in report.findings} == ALL_IDS


def test_a_passing_report_states_detection_times_and_overhead():
    report = graded(ROOT / "solutions" / "heartbeat.py")
    ghost = report.finding("half-open-connection-ghost").observed
    assert "declared dead after" in ghost and "server median" in ghost, ghost
    heartbeat = report.finding("missing-heartbeat").observed
    assert "bytes of WebSocket frames) per minute" in heartbeat, heartbeat
    proxy = report.finding("websocket-proxy-timeout").observed
    assert "no connection was cut" in proxy, proxy


def test_there_is_a_known_bad_variant_for_each_listed_sharp_edge():
    names = {p.stem.removeprefix("heartbeat_") for p in BAD}
    wanted = {"no_heartbeat", "ping_without_tracking_pongs", "interval_over_proxy_timeout",
              "flapping_timeout", "server_never_checks"}
    assert wanted <= names, f"missing known-bad variants: {sorted(wanted - names)}"


def test_a_failure_names_the_seed_expected_observed_a_hint_and_a_reference():
    report = graded(ROOT / "tests" / "known_bad" / "heartbeat_server_never_checks.py")
    finding = report.finding("half-open-connection-ghost")
    assert finding.seed is not None
    assert finding.expected and finding.observed and finding.hint
    assert finding.reference == "references/sharp_edges.md#half-open-connection-ghost"
    assert any("stalls" in row for row in finding.timeline), finding.timeline
    assert finding.figure_png, "a plot of the failing run should be attached"
    report.rerun = "python -m rtlab check heartbeat"
    text = str(report)
    for part in (f"--seed {finding.seed}", "expected", "observed", "hint", "read"):
        assert part in text, f"{part!r} missing from the text report:\n{text}"
    html = report._repr_html_()
    assert "<img" in html and "half-open-connection-ghost" in html


def test_grading_by_name_uses_the_course_map():
    report = grade_file("heartbeat", ROOT / "solutions" / "heartbeat.py")
    assert report.passed, describe(report)
    # The replay command grades the same file again.
    assert report.rerun == "python -m rtlab check heartbeat --solutions"
    bad = grade_file("heartbeat", ROOT / "tests" / "known_bad" / "heartbeat_server_never_checks.py")
    assert bad.rerun == (
        "python -m rtlab check heartbeat --file tests/known_bad/heartbeat_server_never_checks.py")
    assert grade_file("heartbeat").rerun == "python -m rtlab check heartbeat"


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "heartbeat.py"
    path.write_text("from solutions.heartbeat import Heartbeat as Reference, PING, PONG\n" + body)
    return path


def test_a_wakeup_given_as_a_delay_is_explained(tmp_path: Path):
    path = write(tmp_path, (
        "class Heartbeat(Reference):\n"
        "    def next_wakeup(self, now):\n"
        "        return self.interval  # a delay, not a time\n"
    ))
    report = grader.grade(load_module(path, "as_delay"), seeds=[5000])
    observed = report.finding("half-open-connection-ghost").observed
    assert "not a time after now" in observed and "not a delay" in observed, observed


def test_learner_exceptions_and_bad_actions_become_findings_not_crashes(tmp_path: Path):
    raising = write(tmp_path, (
        "class Heartbeat(Reference):\n"
        "    def on_received(self, message, now):\n"
        "        return {}['oops']\n"
    ))
    report = grader.grade(load_module(raising, "raising"), seeds=[5000, 7000, 8000])
    assert report.failed_ids() == ALL_IDS
    assert "KeyError" in report.finding("missing-heartbeat").observed
    (tmp_path / "heartbeat.py").unlink()
    odd = write(tmp_path, (
        "class Heartbeat(Reference):\n"
        "    def poll(self, now):\n"
        "        return [('shout', 'ping')]\n"
    ))
    report = grader.grade(load_module(odd, "odd"), seeds=[5000])
    assert "('shout', 'ping')" in report.finding("half-open-connection-ghost").observed


def test_settings_that_are_not_positive_numbers_are_explained(tmp_path: Path):
    path = write(tmp_path, (
        "class Heartbeat(Reference):\n"
        "    def __init__(self, interval=None, timeout=10.0, *, side='client', now=0.0):\n"
        "        super().__init__(interval, timeout, side=side, now=now)\n"
    ))
    report = grader.grade(load_module(path, "none_interval"))
    assert report.failed_ids() == ALL_IDS
    assert "positive number of seconds" in report.finding("missing-heartbeat").observed
