"""Grade an exercise from a notebook cell: ``await rtlab.check("reconnection")``.

Grading runs in a subprocess (``python -m rtlab check ... --json``) so that
learner code that hangs, blocks or crashes can never take the kernel or the
in-kernel servers down with it; awaiting the subprocess keeps the event loop
free. The returned :class:`Report` shows as a rich view in the notebook.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from rtlab import course
from rtlab.grading.report import Report

GRADING_TIMEOUT = 120.0


async def check(
    exercise: str,
    *,
    solutions: bool = False,
    file: str | None = None,
    seed: int | None = None,
    level: int | None = None,
    timeout: float = GRADING_TIMEOUT,
) -> Report:
    """Grade ``exercises/<exercise>.py`` (or the reference, or ``file``; one ``level`` of a
    large exercise); never raises."""
    args = [sys.executable, "-m", "rtlab", "check", exercise, "--json"]
    if solutions:
        args.append("--solutions")
    if file:
        # Relative to the caller (a notebook runs in notebooks/); the grader runs in
        # the course root, where `solutions` and `tests` are importable as packages.
        args += ["--file", str(Path(file).resolve())]
    if seed is not None:
        args += ["--seed", str(seed)]
    if level is not None:
        args += ["--level", str(level)]
    root = course.root()
    env = {**os.environ, "RTLAB_ROOT": str(root), "MPLBACKEND": "Agg"}
    proc = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
        cwd=root,
    )
    shown = file or f"{'solutions' if solutions else 'exercises'}/{exercise}.py"
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return Report(exercise, shown, error=(
            f"Grading took longer than {timeout:g} s and was stopped. "
            "Your code may loop forever without awaiting anything."
        ))
    lines = out.decode(errors="replace").strip().splitlines()
    try:
        return Report.from_json(lines[-1])
    except (IndexError, ValueError, TypeError):
        detail = err.decode(errors="replace").strip()[-2000:]
        return Report(exercise, shown, error=f"The grader stopped unexpectedly:\n{detail}")
