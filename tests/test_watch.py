"""``python -m rtlab watch``: regrades on save, quiet otherwise, moves on when one passes.

The watcher runs as a learner starts it, in a scratch copy of the course; the
test "saves" by writing the exercise file and reads what the watcher prints.
"""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rtlab import course as course_map
from rtlab import progress

ROOT = Path(__file__).resolve().parent.parent
# Saving to seeing the new grade: about 2 s is the promise; slack for a busy CI machine.
FEEDBACK_S = 4.0


@pytest.fixture
def course(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "course.toml", tmp_path / "course.toml")
    for folder in ("exercises", "solutions", "references"):
        shutil.copytree(ROOT / folder, tmp_path / folder,
                        ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


class Watcher:
    """``python -m rtlab watch`` in a subprocess, its output read line by line."""

    def __init__(self, course: Path, *args: str) -> None:
        env = {**os.environ, "RTLAB_ROOT": str(course), "MPLBACKEND": "Agg",
               "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rtlab", "watch", *args], cwd=course, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def until(self, text: str, timeout: float) -> float:
        """Wait for a line containing ``text``; return the seconds it took."""
        started = time.monotonic()
        while True:
            left = timeout - (time.monotonic() - started)
            try:
                line = self.lines.get(timeout=max(left, 0.01))
            except queue.Empty:
                raise AssertionError(
                    f"{text!r} not printed within {timeout:g} s; the watcher printed:\n"
                    + "\n".join(self.seen[-40:])) from None
            self.seen.append(line)
            if text in line:
                return time.monotonic() - started

    def quiet_for(self, seconds: float) -> list[str]:
        """What it printed during ``seconds``."""
        deadline = time.monotonic() + seconds
        printed: list[str] = []
        while (left := deadline - time.monotonic()) > 0:
            try:
                printed.append(self.lines.get(timeout=left))
            except queue.Empty:
                break
        self.seen += printed
        return printed

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def watcher(course: Path) -> Iterator[list[Watcher]]:
    started: list[Watcher] = []
    yield started
    for w in started:
        w.stop()


def save(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    # A file system with a coarse clock could give two saves the same mtime.
    os.utime(path, (time.time(), time.time()))


def ready_names() -> list[str]:
    ready = {m.id for m in course_map.load().modules if m.ready}
    return [ex.name for ex in course_map.load().exercises if ex.module in ready]


def file_of(name: str) -> str:
    return course_map.load().exercise(name).file


def test_watch_grades_at_start_then_stays_quiet_until_a_save_changes_the_file(
    course: Path, watcher: list[Watcher],
) -> None:
    w = Watcher(course, "presence")
    watcher.append(w)
    w.until("Watching exercises/presence.py", 20)
    w.until("presence: 0 of 2 pass", 20)
    w.until("Waiting for your next save", 5)
    assert w.quiet_for(1.5) == [], "the watcher printed although nothing changed"
    stub = course / "exercises" / "presence.py"
    save(stub, stub.read_text(encoding="utf-8"))  # saved, but the same content
    assert w.quiet_for(1.5) == [], "a save without a change was regraded"
    broken = stub.read_text(encoding="utf-8") + "\ndef broken(:\n"
    save(stub, broken)
    took = w.until("presence, graded in", FEEDBACK_S)
    w.until("SyntaxError", 5)
    assert took < FEEDBACK_S


def test_watch_moves_to_the_next_exercise_once_one_passes(
    course: Path, watcher: list[Watcher],
) -> None:
    names = ready_names()
    first, second = names[0], names[1]
    w = Watcher(course)  # no name: the first exercise that does not pass
    watcher.append(w)
    w.until(f"Watching exercises/{file_of(first)}", 20)
    w.until(f"{first}: 0 of", 20)
    solution = (course / "solutions" / file_of(first)).read_text(encoding="utf-8")
    saved = time.monotonic()
    save(course / "exercises" / file_of(first), solution)
    w.until(f"✓ {first} passes", FEEDBACK_S + 20)  # the full grade of a correct solution
    feedback = time.monotonic() - saved
    w.until(f"Next: {second}", 5)
    w.until(f"{second}: 0 of", 20)  # and it grades the next one at once
    print(f"save to 'passes': {feedback:.1f} s")


def test_watch_says_so_when_every_exercise_already_passes(
    course: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # What `check` records for files that pass (grading them all would take long).
    monkeypatch.setenv("RTLAB_ROOT", str(course))
    for name in ready_names():
        shutil.copy(course / "solutions" / file_of(name), course / "exercises" / file_of(name))
        progress.record_result(name, course / "exercises" / file_of(name), True, [])
    env = {**os.environ, "RTLAB_ROOT": str(course), "MPLBACKEND": "Agg"}
    done = subprocess.run([sys.executable, "-m", "rtlab", "watch"], cwd=course, env=env,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and "Every exercise passes" in done.stdout, done.stdout
