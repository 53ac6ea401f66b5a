"""The frames grader measures what it claims, and its wire arithmetic matches real frames.

The checks every grader gets (stub fails every ID, solution passes, known-bad
variants fail exactly their IDs, known-good ones pass, failures replay from
their seed) live in tests/test_graders.py; here is what is particular to this
one.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

import pytest
from websockets.frames import Frame, Opcode

from rtlab.grading import Report
from rtlab.learner import load_module
from rtlab.topics.websocket_basics import grader as grader
from rtlab.topics.websocket_basics import sim as sim
from rtlab.wire.websocket import frame_size, header_size

ROOT = Path(__file__).resolve().parent.parent


@cache
def graded(path: Path) -> Report:
    return grader.grade(load_module(path, f"graded_{path.parent.name}_{path.stem}"))


@cache
def reference():
    return load_module(ROOT / "solutions" / "frames.py", "frames_solution_for_tests")


@pytest.mark.parametrize("length", [0, 1, 125, 126, 65535, 65536, 200_000])
@pytest.mark.parametrize("mask", [False, True])
def test_header_sizes_match_frames_serialized_by_websockets(length: int, mask: bool):
    data = bytes(length)
    wire = Frame(Opcode.BINARY, data).serialize(mask=mask, extensions=[])
    side = "client" if mask else "server"
    assert len(wire) == frame_size(data, side)
    assert len(wire) - length == header_size(length, side)


def test_a_text_message_counts_its_utf8_bytes_on_the_wire():
    text = "é" * 70  # 70 characters, 140 bytes: past 125, so a 16-bit length
    wire = Frame(Opcode.TEXT, text.encode()).serialize(mask=False, extensions=[])
    assert len(wire) == frame_size(text) == 4 + 140


def test_the_reference_passes_and_states_its_overhead():
    report = graded(ROOT / "solutions" / "frames.py")
    assert report.passed, str(report)
    assert report.scenarios == len(grader.BJ_SEEDS) + len(grader.ML_SEEDS) >= 200
    overhead = report.finding(grader.BJ).observed
    worst = float(re.search(r"at most ([\d.]+) x", overhead).group(1))  # type: ignore[union-attr]
    assert 1.0 < worst < 1.02, overhead
    refused = report.finding(grader.ML).observed
    assert "bad frames refused with the right code" in refused, refused
    for kind in sim.BAD_KINDS:
        assert kind in refused, f"no {kind!r} scenario was refused: {refused}"


def test_base64_in_json_is_measured_at_a_third_more_bytes():
    report = graded(ROOT / "tests" / "known_bad" / "frames_base64_in_json.py")
    observed = report.finding(grader.BJ).observed
    ratio = float(re.search(r", ([\d.]+) x\.", observed).group(1))  # type: ignore[union-attr]
    assert 1.33 <= ratio < 1.36, observed


def test_every_graded_mix_has_good_and_bad_connections_and_exact_limits():
    exact_payload = exact_text = 0
    for seed in grader.ML_SEEDS:
        limit, scripts, order = sim.limits_scripts(seed)
        assert 3 <= len(scripts) <= 6
        assert any(s.bad_at is None for s in scripts) and any(s.bad_at is not None for s in scripts)
        assert sorted(order) == sorted(i for i, s in enumerate(scripts) for _ in s.frames)
        for script in scripts:
            for _meta, payload in script.uploads:
                exact_payload += len(payload) == limit
            good = script.frames[: script.bad_at]
            exact_text += sum(isinstance(f, str) and sim.utf8_len(f) == limit for f in good)
    assert exact_payload >= 20 and exact_text >= 10, (exact_payload, exact_text)


def test_every_bad_frame_is_refused_by_the_reference_with_the_code_the_grader_expects():
    for seed in grader.ML_SEEDS[:60]:
        limit, scripts, _ = sim.limits_scripts(seed)
        for script in scripts:
            receiver = reference().Receiver(max_size=limit)
            for i, frame in enumerate(script.frames):
                actions = receiver.receive(frame)
                if i == script.bad_at:
                    assert actions and actions[0][:2] == ("close", script.code), (
                        seed, script.bad_kind, actions)
                    break
                assert all(a[0] == "deliver" for a in actions), (seed, i, actions)


def test_oversize_text_of_two_byte_characters_fits_in_characters_but_not_in_bytes():
    text = sim.padded_announcement({"name": "x"}, 1, 1030, wide=True)
    assert sim.utf8_len(text) == 1030 and len(text) < 1024
    assert json.loads(text)["size"] == 1


def test_a_receiver_that_raises_is_reported_as_a_1011_close(tmp_path: Path):
    path = tmp_path / "frames.py"
    path.write_text(
        "from solutions.frames import encode_upload, Receiver as R\n"
        "class Receiver(R):\n"
        "    def receive(self, frame):\n"
        "        if frame == '':\n"
        "            raise KeyError('boom')\n"
        "        return super().receive(frame)\n"
    )
    report = grader.grade(load_module(path, "frames_raises"))
    finding = report.finding(grader.ML)
    assert finding.status == "failed"
    assert "KeyError" in finding.observed and "1011 (Internal Error)" in finding.observed
    assert finding.timeline and "raised -> close 1011" in finding.timeline[-1]


def test_a_receiver_that_hangs_is_stopped_with_a_clear_message(tmp_path: Path):
    path = tmp_path / "frames.py"
    path.write_text(
        "from solutions.frames import encode_upload, Receiver as R\n"
        "class Receiver(R):\n"
        "    def receive(self, frame):\n"
        "        while isinstance(frame, bytes) and len(frame) == 0:\n"
        "            pass\n"
        "        return super().receive(frame)\n"
    )
    sim.SCENARIO_SECONDS, saved = 0.5, sim.SCENARIO_SECONDS
    try:
        report = grader.grade(load_module(path, "frames_hangs"))
    finally:
        sim.SCENARIO_SECONDS = saved
    assert not report.passed
    stopped = [f for f in report.findings if "did not finish within" in f.observed]
    assert stopped, str(report)


def test_a_file_without_the_names_gets_a_clear_error(tmp_path: Path):
    path = tmp_path / "frames.py"
    path.write_text("def encode_upload(meta, payload):\n    return []\n")
    report = grader.grade(load_module(path, "frames_missing"))
    assert report.error and "no Receiver" in report.error


def test_the_live_scenarios_run_on_real_sockets_and_replay_alone_from_their_seeds():
    solution = load_module(ROOT / "solutions" / "frames.py", "frames_live_replay")
    report = grader.grade(solution, seeds=[grader.LIVE_BJ_SEED, grader.LIVE_ML_SEED])
    assert report.passed and report.scenarios == 2, str(report)
    wrong_code = load_module(ROOT / "tests" / "known_bad" / "frames_close_1000_on_malformed.py",
                             "frames_live_wrong_code")
    finding = grader.grade(wrong_code, seeds=[grader.LIVE_ML_SEED]).finding(grader.ML)
    assert finding.status == "failed" and "Live, on a real server" in finding.observed
    assert "1000 (Normal Closure)" in finding.observed, finding.observed
    assert any(line.startswith("good") for line in finding.timeline), finding.timeline
    base64_sender = load_module(ROOT / "tests" / "known_bad" / "frames_base64_in_json.py",
                                "frames_live_base64")
    finding = grader.grade(base64_sender, seeds=[grader.LIVE_BJ_SEED]).finding(grader.BJ)
    assert finding.status == "failed" and "counting proxy" in finding.observed, finding.observed


def test_inside_a_running_event_loop_the_live_scenarios_are_skipped_not_failed():
    import asyncio

    solution = load_module(ROOT / "solutions" / "frames.py", "frames_in_loop")

    async def in_a_cell():
        return grader.grade(solution, seeds=[grader.LIVE_ML_SEED, 2000])

    report = asyncio.run(in_a_cell())
    assert report.finding(grader.ML).passed and report.finding(grader.ML).scenarios == 1


def test_a_trial_before_the_live_demo_catches_todo_crashes_and_hangs_but_not_wrong_answers(
    tmp_path: Path,
):
    stub = load_module(ROOT / "exercises" / "frames.py", "frames_trial_stub")
    assert "TODO" in (sim.trial(stub) or "")
    assert sim.trial(reference()) is None
    wrong = load_module(ROOT / "tests" / "known_bad" / "frames_base64_in_json.py", "trial_b64")
    assert sim.trial(wrong) is None, "wrong answers are for the grader, not the trial"
    path = tmp_path / "frames.py"
    path.write_text("from solutions.frames import encode_upload, Receiver as R\n"
                    "class Receiver(R):\n"
                    "    def receive(self, frame):\n"
                    "        while frame == 'not JSON':\n"
                    "            pass\n"
                    "        return super().receive(frame)\n")
    sim.SCENARIO_SECONDS, saved = 0.5, sim.SCENARIO_SECONDS
    try:
        problem = sim.trial(load_module(path, "frames_trial_hangs"))
    finally:
        sim.SCENARIO_SECONDS = saved
    assert problem and "did not finish within" in problem
