"""Lessons the learner does, not reads: the rules every stored notebook keeps.

- no code cell loads ``solutions/`` or repeats five consecutive statements of a
  solution (imports and docstrings aside): a lesson shows the fix's behaviour
  (``rtlab.learner.load_working``), never its code;
- at least two **Try it** prompts per lesson (markdown cells that begin with it);
- a challenge card in each lesson of a module with an exercise: what to build,
  the pass criteria, the command, the time to expect;
- teaching cells short: at most 15 lines of code (blank and comment lines aside),
  unless the cell opens with a comment saying why (``# Long because ...``);
- a time estimate near the top ("About NN minutes"), at most 45 minutes;
- every relative link of a lesson opens: the file exists, and so does the anchor.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from rtlab import course

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]*.ipynb"))
MAX_LINES = 15
MAX_MINUTES = 45
WINDOW = 5  # consecutive statements of a solution that make "the answer shown"
LINK = re.compile(r"\]\(([^)\s]+)\)")


def cells(path: Path, kind: str) -> list[str]:
    notebook = json.loads(path.read_text(encoding="utf-8"))
    return ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == kind]


def parse(source: str) -> ast.Module:
    """A code cell as Python (top-level await allowed; IPython magics dropped)."""
    lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    flags = ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    tree = compile("\n".join(lines), "<cell>", "exec", flags=flags, dont_inherit=True)
    assert isinstance(tree, ast.Module)
    return tree


def statements(tree: ast.Module) -> list[str]:
    """Every statement in source order, as normalised text (compound ones by their
    first line); imports, docstrings and ``pass`` left out, as they say nothing."""
    found: list[tuple[int, int, str]] = []
    for node in ast.walk(tree):
        silent = ast.Import | ast.ImportFrom | ast.Pass
        if not isinstance(node, ast.stmt) or isinstance(node, silent):
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(
            node.value.value, str
        ):
            continue
        text = ast.unparse(node)
        if hasattr(node, "body"):
            text = next(line for line in text.splitlines() if not line.startswith("@"))
        found.append((node.lineno, node.col_offset, text))
    return [text for *_, text in sorted(found)]


def windows(sequence: list[str]) -> set[tuple[str, ...]]:
    return {tuple(sequence[i : i + WINDOW]) for i in range(len(sequence) - WINDOW + 1)}


SOLUTION_WINDOWS = {
    path.name: windows(statements(ast.parse(path.read_text(encoding="utf-8"))))
    for path in sorted((ROOT / "solutions").glob("*.py"))
}


def lesson_id(path: Path) -> str:
    return path.stem


def module_of(path: Path) -> course.Module | None:
    relative = path.relative_to(ROOT).as_posix()
    for module in course.load().modules:
        if relative in module.notebooks:
            return module
    return None


def test_there_are_lessons() -> None:
    assert len(LESSONS) >= 8


def test_every_lesson_belongs_to_a_module_of_the_course_map() -> None:
    orphans = [p.name for p in LESSONS if module_of(p) is None]
    assert not orphans, f"course.toml names no module for {orphans} (notebook or parts)"


@pytest.mark.parametrize("path", LESSONS, ids=lesson_id)
def test_no_lesson_shows_an_answer(path: Path) -> None:
    sequence: list[str] = []
    for source in cells(path, "code"):
        assert "solutions" not in source, (
            f"{path.name}: a code cell mentions `solutions`; show the fix's behaviour with "
            "rtlab.learner.load_working(...) instead of loading the reference's file:\n" + source
        )
        sequence += statements(parse(source))
    shown = windows(sequence)
    for name, answer in SOLUTION_WINDOWS.items():
        common = shown & answer
        assert not common, (
            f"{path.name} repeats {WINDOW} consecutive statements of solutions/{name}:\n  "
            + "\n  ".join(sorted(common)[0])
        )


@pytest.mark.parametrize("path", LESSONS, ids=lesson_id)
def test_every_lesson_has_things_to_try(path: Path) -> None:
    prompts = [c for c in cells(path, "markdown") if c.lstrip().startswith("**Try it**")]
    assert len(prompts) >= 2, (
        f"{path.name} has {len(prompts)} Try it prompts; each lesson needs at least two "
        "(markdown cells that begin with **Try it**: change a named constant, predict, re-run)"
    )


@pytest.mark.parametrize("path", LESSONS, ids=lesson_id)
def test_a_graded_lesson_ends_in_a_challenge_card(path: Path) -> None:
    module = module_of(path)
    if module is None or module.exercise is None:
        pytest.skip(f"{path.name} belongs to a module without an exercise")
    card_parts = ("**Build**", "**Pass criteria**", "**Run**", "**Time**")
    cards = [c for c in cells(path, "markdown") if all(part in c for part in card_parts)]
    assert cards, f"{path.name} has no challenge card (a markdown cell with {card_parts})"
    command = f"rtlab check {module.exercise}"
    assert any(command in card for card in cards), f"{path.name}'s card should say `{command}`"
    assert any(re.search(r"\d", card.split("**Pass criteria**", 1)[1]) for card in cards), (
        f"{path.name}'s pass criteria should give the numbers the grader measures"
    )


def code_lines(source: str) -> int:
    lines = [line.strip() for line in source.splitlines()]
    return sum(1 for line in lines if line and not line.startswith("#"))


@pytest.mark.parametrize("path", LESSONS, ids=lesson_id)
def test_teaching_cells_are_short(path: Path) -> None:
    long = [
        source for source in cells(path, "code")
        if code_lines(source) > MAX_LINES and not source.lstrip().startswith("# Long because")
    ]
    assert not long, (
        f"{path.name} has {len(long)} code cells over {MAX_LINES} lines; move scaffolding into "
        "rtlab helpers, or open the cell with `# Long because ...`. The first:\n" + long[0]
    )


@pytest.mark.parametrize("path", LESSONS, ids=lesson_id)
def test_every_lesson_says_how_long_it_takes(path: Path) -> None:
    top = "\n".join(cells(path, "markdown")[:3])
    match = re.search(r"[Aa]bout (\d+)(?:\s*(?:-|–|to)\s*(\d+))? minutes", top)
    assert match, f"{path.name} should say near the top how long it takes ('About 30 minutes')"
    minutes = int(match[2] or match[1])
    assert minutes <= MAX_MINUTES, (
        f"{path.name} takes {minutes} min; split it (at most {MAX_MINUTES})")


def anchors(path: Path) -> set[str]:
    """Heading anchors as JupyterLab makes them (code marks and emphasis dropped)."""
    found = set()
    for source in cells(path, "markdown"):
        for line in source.splitlines():
            if line.startswith("#"):
                found.add(re.sub(r"[`*]", "", line.lstrip("#").strip()).replace(" ", "-"))
    found |= {a for s in cells(path, "markdown") for a in re.findall(r'<a id="([^"]+)"', s)}
    return found


@pytest.mark.parametrize("path", LESSONS, ids=lesson_id)
def test_every_link_of_a_lesson_opens(path: Path) -> None:
    broken = []
    for source in cells(path, "markdown"):
        for target in LINK.findall(source):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            file_part, _, anchor = target.partition("#")
            linked = (path.parent / file_part).resolve() if file_part else path
            if not linked.exists():
                broken.append(f"{target} (no such file: a module not written yet?)")
            elif anchor and linked.suffix == ".ipynb" and anchor not in anchors(linked):
                broken.append(f"{target} (no heading {anchor!r} in {linked.name})")
            elif anchor and linked.suffix == ".md" and f'<a id="{anchor}"' not in linked.read_text(
                encoding="utf-8"
            ):
                broken.append(f"{target} (no anchor {anchor!r} in {linked.name})")
    assert not broken, f"{path.name} has links that do not open:\n  " + "\n  ".join(broken)
