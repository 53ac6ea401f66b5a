"""The course map, read from ``course.toml`` at the repository root."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path


def root() -> Path:
    """The course repository (where ``course.toml`` lives)."""
    env = os.environ.get("RTLAB_ROOT")
    if env:
        return Path(env).resolve()
    here = Path(__file__).resolve().parent.parent
    if (here / "course.toml").exists():
        return here
    cwd = Path.cwd().resolve()
    for candidate in (cwd, *cwd.parents):
        if (candidate / "course.toml").exists():
            return candidate
    raise FileNotFoundError("course.toml not found; set RTLAB_ROOT to the course folder")


@dataclass(frozen=True)
class Module:
    id: str
    title: str
    notebook: str
    status: str
    # A module whose lesson is too long for one sitting continues in further notebooks.
    parts: tuple[str, ...] = ()
    exercise: str | None = None
    package: str | None = None  # its home: rtlab.topics.<name>
    benches: tuple[str, ...] = ()  # "file:function" within package, for `make bench`
    validations: tuple[str, ...] = ()
    sharp_edges: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    anti_patterns: tuple[str, ...] = ()

    @property
    def ready(self) -> bool:
        return self.status == "ready"

    @property
    def notebooks(self) -> tuple[str, ...]:
        """The module's lesson notebooks, in reading order."""
        return (self.notebook, *self.parts)

    def bench_targets(self) -> list[tuple[str, str, str]]:
        """(name, module, function) of each benchmark, e.g. ("transports", "rtlab.topics...")."""
        targets = []
        for entry in self.benches:
            file, _, function = entry.partition(":")
            name = function.removeprefix("bench_").replace("_", "-")
            targets.append((name, f"{self.package}.{file}", function))
        return targets

    @property
    def graded_ids(self) -> tuple[str, ...]:
        """IDs a ready module's grader must check: its validations and sharp edges."""
        return self.validations + self.sharp_edges


@dataclass(frozen=True)
class Level:
    """One step of a large exercise, graded on its own IDs (``check NAME --level N``)."""

    title: str
    ids: tuple[str, ...]


@dataclass(frozen=True)
class Exercise:
    name: str
    module: str
    file: str
    grader: str
    summary: str
    hints: tuple[str, ...] = field(default=())
    levels: tuple[Level, ...] = field(default=())

    def level(self, number: int) -> Level:
        """Level ``number``, counted from 1."""
        if not 1 <= number <= len(self.levels):
            have = f"levels 1-{len(self.levels)}" if self.levels else "no levels"
            raise KeyError(f"exercise {self.name!r} has {have}, not level {number}")
        return self.levels[number - 1]

    @property
    def path(self) -> Path:
        return root() / "exercises" / self.file

    @property
    def solution_path(self) -> Path:
        return root() / "solutions" / self.file


@dataclass(frozen=True)
class Course:
    modules: tuple[Module, ...]
    exercises: tuple[Exercise, ...]

    def exercise(self, name: str) -> Exercise:
        for ex in self.exercises:
            if ex.name == name:
                return ex
        known = ", ".join(ex.name for ex in self.exercises)
        raise KeyError(f"no exercise named {name!r}; the exercises are: {known}")

    def module(self, id: str) -> Module:
        for mod in self.modules:
            if mod.id == id:
                return mod
        raise KeyError(id)


def _tuples(d: dict[str, object]) -> dict[str, object]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}


@cache
def load() -> Course:
    data = tomllib.loads((root() / "course.toml").read_text(encoding="utf-8"))
    modules = tuple(Module(**_tuples(m)) for m in data.get("module", []))  # type: ignore[arg-type]
    exercises = tuple(
        Exercise(**_tuples({**e, "levels": [Level(lv["title"], tuple(lv["ids"]))
                                            for lv in e.get("levels", [])]}))  # type: ignore[arg-type]
        for e in data.get("exercise", [])
    )
    return Course(modules, exercises)
