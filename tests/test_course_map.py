"""The syllabus, the references, the course map and the graders agree.

- every ID of the skill's digest is in rtlab.syllabus, and vice versa;
- references/*.md has exactly one entry (anchor) per ID, on the right page,
  with the digest's severity;
- every relative link in references/ resolves: files exist (or are a planned
  module's notebook), anchors exist in notebooks and reference pages;
- every ID is taught by some module of course.toml;
- every ready module has its notebook, exercise, solution and a grader that
  checks each validation and sharp-edge ID the module claims.
"""

from __future__ import annotations

import importlib
import json
import os
import re
from pathlib import Path

import pytest

from rtlab import course, syllabus

ROOT = Path(__file__).resolve().parent.parent
DIGEST = ROOT.parent / "shared" / "seed" / "reference-digest.md"
ALL_IDS = {**syllabus.VALIDATIONS, **syllabus.SHARP_EDGES, **syllabus.PATTERNS,
           **syllabus.ANTI_PATTERNS, **syllabus.COURSE_CHECKS}
LINK = re.compile(r"\]\(([^)\s]+)\)")


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def notebook_anchors(path: Path) -> set[str]:
    """Heading anchors as JupyterLab makes them, from the rendered heading text
    (code marks and emphasis gone): spaces become '-', the rest stays."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    anchors = set()
    for cell in cells:
        if cell["cell_type"] != "markdown":
            continue
        for line in "".join(cell["source"]).splitlines():
            if line.startswith("#"):
                rendered = re.sub(r"[`*]", "", line.lstrip("#").strip())
                anchors.add(rendered.replace(" ", "-"))
    return anchors


def markdown_anchors(path: Path) -> set[str]:
    return set(re.findall(r'<a id="([^"]+)"></a>', path.read_text(encoding="utf-8")))


def test_the_syllabus_matches_the_digest():
    if not DIGEST.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{DIGEST} is missing; CI must have shared/ beside the checkout")
        pytest.skip(f"{DIGEST} not found (shared/ is not beside this checkout)")
    text = DIGEST.read_text(encoding="utf-8")
    rows = re.findall(r"^\| ([a-z0-9-]+) \| (critical|high|medium|error|warning|info) \|",
                      text, re.M)
    digest = dict(rows)
    ours = {**syllabus.VALIDATIONS, **syllabus.SHARP_EDGES}
    assert digest == ours, f"digest and rtlab.syllabus differ: {set(digest) ^ set(ours)}"
    names = re.findall(r"^\| ([A-Z][^|]+?) \| ", text, re.M)
    slugs = {slug(n) for n in names if n not in ("name", "id")}
    assert slugs == set(syllabus.PATTERNS) | set(syllabus.ANTI_PATTERNS)


def test_the_digest_counts_are_kept():
    assert (len(syllabus.PATTERNS), len(syllabus.ANTI_PATTERNS), len(syllabus.SHARP_EDGES),
            len(syllabus.VALIDATIONS)) == (5, 6, 11, 14)


def test_course_checks_are_not_digest_ids():
    digest_ids = {**syllabus.VALIDATIONS, **syllabus.SHARP_EDGES, **syllabus.PATTERNS,
                  **syllabus.ANTI_PATTERNS}
    assert not set(syllabus.COURSE_CHECKS) & set(digest_ids)


@pytest.mark.parametrize("page", sorted(syllabus.PAGES))
def test_each_reference_page_has_one_entry_per_id_and_no_other(page: str):
    text = (ROOT / page).read_text(encoding="utf-8")
    found = re.findall(r'<a id="([^"]+)"></a>', text)
    expected = set(syllabus.PAGES[page])
    duplicates = {a for a in found if found.count(a) > 1}
    assert not duplicates, f"{page}: anchors appear twice: {sorted(duplicates)}"
    assert set(found) == expected, (
        f"{page}: missing {sorted(expected - set(found))}, "
        f"unexpected {sorted(set(found) - expected)}"
    )


@pytest.mark.parametrize("page", ["references/validations.md", "references/sharp_edges.md"])
def test_each_entry_states_the_digest_severity(page: str):
    text = (ROOT / page).read_text(encoding="utf-8")
    for id, severity in syllabus.PAGES[page].items():
        entry = text.split(f'<a id="{id}"></a>', 1)[1][:400]
        assert f"**Severity:** {severity}" in entry, f"{page}#{id} should say severity {severity}"


@pytest.mark.parametrize("page", sorted(syllabus.PAGES))
def test_every_link_in_the_references_resolves(page: str):
    source = ROOT / page
    planned = {m.notebook for m in course.load().modules if not m.ready}
    broken = []
    for target in LINK.findall(source.read_text(encoding="utf-8")):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        file_part, _, anchor = target.partition("#")
        path = (source.parent / file_part).resolve() if file_part else source
        relative = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)
        if not path.exists():
            if relative not in planned:
                broken.append(f"{target} (no such file)")
            continue
        if anchor:
            anchors = (notebook_anchors(path) if path.suffix == ".ipynb"
                       else markdown_anchors(path) if path.suffix == ".md" else set())
            if anchor not in anchors:
                broken.append(f"{target} (no anchor {anchor!r} in {relative})")
    assert not broken, f"{page} has broken links:\n  " + "\n  ".join(broken)


def test_every_id_is_taught_by_a_module():
    taught = set()
    for module in course.load().modules:
        ids = module.validations + module.sharp_edges + module.patterns + module.anti_patterns
        unknown = set(ids) - set(ALL_IDS)
        assert not unknown, f"course.toml module {module.id!r} names unknown IDs {sorted(unknown)}"
        taught |= set(ids)
    assert taught == set(ALL_IDS), f"IDs no module teaches: {sorted(set(ALL_IDS) - taught)}"


READY = [m for m in course.load().modules if m.ready]


@pytest.mark.parametrize("module", READY, ids=lambda m: m.id)
def test_a_ready_module_has_its_notebook_exercise_solution_and_graders(module: course.Module):
    for notebook in module.notebooks:
        assert (ROOT / notebook).exists(), f"{notebook} is missing"
    if not module.graded_ids:
        return
    assert module.exercise, f"module {module.id!r} claims IDs but names no exercise"
    exercise = course.load().exercise(module.exercise)
    assert exercise.path.exists() and exercise.solution_path.exists()
    grader = importlib.import_module(exercise.grader)
    missing = set(module.graded_ids) - set(grader.IDS)
    assert not missing, f"{exercise.grader} has no check for {sorted(missing)}"


@pytest.mark.parametrize("module", READY, ids=lambda m: m.id)
def test_the_references_of_a_ready_module_link_to_its_notebook(module: course.Module):
    ids = module.validations + module.sharp_edges + module.patterns + module.anti_patterns
    notebooks = ["../" + notebook for notebook in module.notebooks]
    for id in ids:
        page = syllabus.reference_link(id).split("#")[0]
        entry = (ROOT / page).read_text(encoding="utf-8").split(f'<a id="{id}"></a>', 1)[1]
        entry = entry.split('<a id="', 1)[0]
        assert any(notebook in entry for notebook in notebooks), (
            f"{page}#{id} should link to its lesson, one of {notebooks}")


def test_exercises_and_solutions_mirror_each_other():
    exercises = {p.name for p in (ROOT / "exercises").glob("*.py")}
    solutions = {p.name for p in (ROOT / "solutions").glob("*.py")}
    assert exercises == solutions
    assert {ex.file for ex in course.load().exercises} == exercises


@pytest.mark.parametrize("exercise", [e for e in course.load().exercises if e.levels],
                         ids=lambda e: e.name)
def test_the_levels_of_an_exercise_split_its_ids(exercise: course.Exercise):
    """Each ID the grader checks belongs to exactly one level, so passing every level
    is passing the exercise."""
    ids = [id for level in exercise.levels for id in level.ids]
    grader = importlib.import_module(exercise.grader)
    assert sorted(ids) == sorted(set(ids)), f"{exercise.name}: an ID sits in two levels"
    assert set(ids) == set(grader.IDS), (
        f"{exercise.name}'s levels should cover exactly the grader's IDs: "
        f"missing {sorted(set(grader.IDS) - set(ids))}, "
        f"unknown {sorted(set(ids) - set(grader.IDS))}")
