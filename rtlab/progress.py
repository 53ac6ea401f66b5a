"""A learner's progress: last grade per exercise file, attempts, hints seen. In ``.rtlab/``.

The state is a small JSON file beside the course (git-ignored), so a learner
working offline keeps it between sessions and a fresh clone starts clean.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rtlab import course


def _state_file() -> Path:
    return course.root() / ".rtlab" / "progress.json"


def _load() -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(_state_file().read_text(encoding="utf-8"))
        return data
    except (OSError, ValueError):
        return {}


def _save(data: dict[str, Any]) -> None:
    path = _state_file()
    try:
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
    except OSError:
        pass  # a read-only checkout still grades; it just forgets


def fingerprint(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    except OSError:
        return ""


@dataclass(frozen=True)
class Status:
    label: str  # "not started", "in progress", "failing", "passing", "changed"
    detail: str = ""


def record_result(
    exercise: str, path: Path, passed: bool, failed_ids: list[str],
    passed_ids: list[str] | None = None,
) -> None:
    """Remember a grade of the learner's file, and count it as an attempt."""
    data = _load()
    data.setdefault("results", {})[exercise] = {
        "file": fingerprint(path),
        "passed": passed,
        "failed": failed_ids,
        "passing": passed_ids or [],
    }
    attempts = data.setdefault("attempts", {})
    attempts[exercise] = attempts.get(exercise, 0) + 1
    now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    data.setdefault("last_graded", {})[exercise] = now
    if passed:
        data.setdefault("first_passed", {}).setdefault(exercise, now)
    _save(data)


def summary(exercise: str, path: Path, hints_total: int) -> dict[str, Any]:
    """One exercise's line of the hand-in report (see ``python -m rtlab report``)."""
    data = _load()
    result = data.get("results", {}).get(exercise, {})
    return {
        "status": status(exercise, path).label,
        "passing_ids": sorted(result.get("passing", [])),
        "failing_ids": sorted(result.get("failed", [])),
        "attempts": data.get("attempts", {}).get(exercise, 0),
        "hints_used": data.get("hints", {}).get(exercise, 0),
        "hints_total": hints_total,
        "last_graded": data.get("last_graded", {}).get(exercise),
        "first_passed": data.get("first_passed", {}).get(exercise),
        "file_sha256": fingerprint(path),
    }


def status(exercise: str, path: Path) -> Status:
    """What we know of the learner's file without grading it again."""
    source = path.read_text(encoding="utf-8") if path.exists() else ""
    result = _load().get("results", {}).get(exercise)
    if result and result.get("file") == fingerprint(path):
        if result.get("passed"):
            return Status("passing")
        return Status("failing", ", ".join(result.get("failed", [])))
    if "raise NotImplementedError" in source:
        touched = result is not None or "# TODO" not in source
        return Status("in progress" if touched else "not started")
    return Status("changed", "not checked since the last edit")


def has_passed(exercise: str, path: Path) -> bool:
    return status(exercise, path).label == "passing"


def next_hint(exercise: str, hints: tuple[str, ...], show_all: bool = False) -> list[str]:
    """The hints to show now: one more than last time (or all of them)."""
    data = _load()
    seen = data.setdefault("hints", {}).get(exercise, 0)
    upto = len(hints) if show_all else min(len(hints), seen + 1)
    data["hints"][exercise] = max(seen, upto)
    _save(data)
    return list(hints[:upto])
