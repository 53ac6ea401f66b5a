"""The package layout, by import graph: engines below, one folder per module above.

- Engines (the simulator, live machinery, grading, the learner sandbox, wire codecs,
  plots, the course map) never import a module's folder, nor the applications on top
  (the command line, doctor, bench, lessons).
- No module's folder imports another module's folder (the capstone, once it
  exists, may use the others' public faces: its own ``live`` and ``sim``).
- Lessons import a module's live and sim code, never its grader.
- Every ready module of course.toml names its home, and the home exists.

Imports are read from the source (every ``import`` and ``from ... import`` anywhere
in a file, including those inside functions), so a lazy import counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from rtlab import course

ROOT = Path(__file__).resolve().parent.parent
RTLAB = ROOT / "rtlab"
ENGINES = ("rtlab.sim", "rtlab.live", "rtlab.grading", "rtlab.learner", "rtlab.wire",
           "rtlab.plots", "rtlab.course", "rtlab.syllabus")
APPLICATIONS = ("rtlab.cli", "rtlab.doctor", "rtlab.bench", "rtlab.lessons", "rtlab.checking",
                "rtlab.progress", "rtlab.watch", "rtlab.classroom",
                "rtlab.datasets")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name == "rtlab" or name.startswith("rtlab.")}


def within(name: str, prefixes: tuple[str, ...] | str) -> bool:
    prefixes = (prefixes,) if isinstance(prefixes, str) else prefixes
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def topic_of(name: str) -> str | None:
    parts = name.split(".")
    return parts[2] if len(parts) > 2 and parts[:2] == ["rtlab", "topics"] else None


SOURCES = sorted(RTLAB.rglob("*.py"))
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.py"))


@pytest.mark.parametrize("path", [p for p in SOURCES if within(module_name(p), ENGINES)],
                         ids=lambda p: module_name(p))
def test_engines_import_no_module_folder_and_no_application(path: Path):
    wrong = sorted(n for n in imports(path) if within(n, ("rtlab.topics", *APPLICATIONS)))
    assert not wrong, f"{module_name(path)} is an engine but imports {wrong}"


@pytest.mark.parametrize("path", [p for p in SOURCES if topic_of(module_name(p))],
                         ids=lambda p: module_name(p))
def test_no_module_folder_imports_another(path: Path):
    mine = topic_of(module_name(path))
    others = sorted(n for n in imports(path) if topic_of(n) not in (None, mine))
    assert not others, f"{module_name(path)} (module {mine}) imports {others}"
    apps = sorted(n for n in imports(path) if within(n, APPLICATIONS))
    assert not apps, f"{module_name(path)} imports the applications {apps}"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_lessons_never_import_a_grader(path: Path):
    graders = sorted(n for n in imports(path) if n.split(".")[-1] == "grader"
                     or ".grader." in n)
    assert not graders, f"notebooks/{path.name} imports {graders}: use the module's sim or live"


def test_every_ready_module_names_its_home_and_the_home_exists():
    for module in course.load().modules:
        if not module.ready or module.exercise is None:
            continue
        assert module.package, f"course.toml: module {module.id} has no package"
        folder = ROOT / Path(*module.package.split("."))
        assert (folder / "__init__.py").exists(), f"{module.package} does not exist"
        exercise = course.load().exercise(module.exercise)
        assert within(exercise.grader, module.package), (
            f"the grader of {module.id} ({exercise.grader}) lives outside {module.package}")
        for name, target, function in module.bench_targets():
            assert within(target, module.package), f"bench {name} is outside its module"
            source = ROOT / Path(*target.split(".")).with_suffix(".py")
            assert f"def {function}(" in source.read_text(encoding="utf-8"), (
                f"course.toml names {target}:{function}, which does not exist")


def test_the_import_reader_sees_lazy_imports(tmp_path: Path):
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from rtlab.topics.presence import grader\n")
    assert "rtlab.topics.presence.grader" in imports(sample)
