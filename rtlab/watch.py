"""``python -m rtlab watch [EXERCISE]``: regrade on every save, then move on (rustlings' habit).

The watcher polls the exercise file (its modification time, then its content,
four times a second: no extra package, and it works on every file system) and
regrades only when the content changed, so it stays quiet while you think.
Each grade runs ``python -m rtlab check NAME --json`` in a fresh process: code
that hangs or crashes is stopped by the grader, a new import sees your latest
save, and the result is recorded in your progress as with ``check``. When an
exercise passes, the watcher says so and goes on to the next one that does not
pass yet, in course order; when none is left, it stops.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rtlab import course, progress
from rtlab.grading.report import Report

POLL_S = 0.25
GRADE_TIMEOUT_S = 120.0


def ready_exercises() -> list[course.Exercise]:
    ready = {m.id for m in course.load().modules if m.ready}
    return [ex for ex in course.load().exercises if ex.module in ready]


def next_exercise(after: str | None = None) -> course.Exercise | None:
    """The first exercise, in course order (after ``after``, wrapping round), that does not pass."""
    exercises = ready_exercises()
    names = [ex.name for ex in exercises]
    start = names.index(after) + 1 if after in names else 0
    for ex in exercises[start:] + exercises[:start]:
        if ex.name != after and not progress.has_passed(ex.name, ex.path):
            return ex
    return None


def grade(name: str) -> Report:
    """Grade exercises/NAME.py in a fresh process (the result is saved in the progress)."""
    args = [sys.executable, "-m", "rtlab", "check", name, "--json"]
    env = {**os.environ, "RTLAB_ROOT": str(course.root()), "MPLBACKEND": "Agg"}
    try:
        done = subprocess.run(args, capture_output=True, text=True, env=env,
                              cwd=course.root(), timeout=GRADE_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        return Report(name, f"exercises/{name}.py", error=(
            f"Grading took longer than {GRADE_TIMEOUT_S:g} s and was stopped."))
    lines = done.stdout.strip().splitlines()
    try:
        return Report.from_json(lines[-1])
    except (IndexError, ValueError, TypeError):
        return Report(name, f"exercises/{name}.py",
                      error="The grader stopped unexpectedly:\n" + done.stderr[-2000:])


@dataclass
class Watched:
    """What the watcher last graded: a file's modification time and content."""

    path: Path
    mtime: float = -1.0
    content: bytes | None = None

    def changed(self) -> bool:
        """True when the file's content differs from the last call that returned True."""
        try:
            mtime = self.path.stat().st_mtime
        except OSError:
            return False  # an editor replacing the file: look again at the next poll
        if mtime == self.mtime:
            return False
        self.mtime = mtime
        try:
            content = self.path.read_bytes()
        except OSError:
            return False
        if content == self.content:
            return False  # saved without a change: nothing to say
        self.content = content
        return True


def watch(
    name: str | None = None,
    *,
    poll: float = POLL_S,
    say: Callable[[str], None] = print,
    stop: Callable[[], bool] = lambda: False,
) -> int:
    """Watch ``name`` (or the first exercise that does not pass); 0 once every one passes."""
    ex = course.load().exercise(name) if name else next_exercise()
    if ex is None:
        say("Every exercise passes. Well done! (python -m rtlab list shows them.)")
        return 0
    say(f"==> Watching {ex.path.relative_to(course.root())}: save it to regrade. Ctrl-C stops.")
    watched = Watched(ex.path)
    while not stop():
        if not watched.changed():
            time.sleep(poll)
            continue
        started = time.monotonic()
        report = grade(ex.name)
        say(f"\n--- {time.strftime('%H:%M:%S')} {ex.name}, graded in "
            f"{time.monotonic() - started:.1f} s ---")
        say(str(report))
        if not report.passed:
            if report.error is None:
                say(f"\nStuck? python -m rtlab hint {ex.name}. Waiting for your next save...")
            continue
        following = next_exercise(after=ex.name)
        if following is None:
            say(f"\n✓ {ex.name} passes, and so does every other exercise. Well done!")
            return 0
        say(f"\n✓ {ex.name} passes. The reference solution: python -m rtlab solution {ex.name}")
        ex = following
        say(f"\n==> Next: {ex.name} ({ex.summary}). "
            f"Watching {ex.path.relative_to(course.root())}; "
            f"its lesson is {course.load().module(ex.module).notebook}.")
        watched = Watched(ex.path)
    return 1
