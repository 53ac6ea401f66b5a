"""Each stored lesson notebook is built from its jupytext source and is in step with it.

A lesson is written as ``notebooks/NN-name.py`` (py:percent) and stored as
``notebooks/NN-name.ipynb`` (what learners open and nbval checks), made by
``python -m rtlab.lessons NN-name --execute``. These tests keep the pairs complete and
in step, and prove that the in-step check notices a change.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import jupytext
import nbformat
import pytest

from rtlab import lessons

NOTEBOOKS = lessons.notebooks_dir()
SOURCES = lessons.sources()
STORED = sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))

TINY_LESSON = """\
# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # A tiny lesson

# %%
answer = 6 * 7
print(answer)

# %% tags=["nbval-ignore-output"]
print("a measured number")
"""


def test_there_are_lessons_to_check():
    assert len(SOURCES) >= 8, f"only {[p.name for p in SOURCES]} in notebooks/"


def test_every_stored_notebook_has_its_source_and_every_source_its_notebook():
    sources = {p.stem for p in SOURCES}
    stored = {p.stem for p in STORED}
    assert stored - sources == set(), f"notebooks without a source .py: {sorted(stored - sources)}"
    assert sources - stored == set(), (
        f"sources never built: {sorted(sources - stored)}; "
        "run python -m rtlab.lessons NAME --execute")


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_each_stored_notebook_is_in_step_with_its_source(source: Path):
    problems = lessons.out_of_step(source)
    assert problems == [], (
        f"{problems}; rebuild with: python -m rtlab.lessons {source.stem} --execute")


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_each_lesson_source_has_the_jupytext_header_and_parses(source: Path):
    text = source.read_text(encoding="utf-8")
    assert text.startswith("# ---\n# jupyter:\n#   jupytext:\n"), (
        f"{source.name} does not start with a jupytext header")
    metadata = jupytext.read(source).metadata
    assert metadata["jupytext"]["text_representation"]["format_name"] == "percent", metadata
    assert metadata["kernelspec"]["name"] == "python3", metadata
    # Cells may await at top level, as in a notebook.
    compile(text, str(source), "exec", flags=ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


def tiny_lesson(folder: Path) -> Path:
    source = folder / "99-tiny.py"
    source.write_text(TINY_LESSON, encoding="utf-8")
    nbformat.write(lessons.build(source), source.with_suffix(".ipynb"))
    return source


def test_a_freshly_built_notebook_is_in_step_with_stable_cell_ids(tmp_path: Path):
    source = tiny_lesson(tmp_path)
    assert lessons.out_of_step(source) == []
    nb = nbformat.read(source.with_suffix(".ipynb"), as_version=4)
    assert [c.id for c in nb.cells] == ["tiny-00", "tiny-01", "tiny-02"]
    assert nb.cells[2].metadata == {"tags": ["nbval-ignore-output"]}


@pytest.mark.parametrize(("change", "expected"), [
    (("answer = 6 * 7", "answer = 6 * 9"), "cell 1 differs from its source"),
    (('tags=["nbval-ignore-output"]', 'tags=["raises-exception"]'),
     "cell 2 differs from its source"),
    (("# # A tiny lesson", "# # A renamed lesson"), "cell 0 differs from its source"),
    (("\n# %%\nanswer", "\n# %%\nprint(1)\n\n# %%\nanswer"), "3 cells, its source has 4"),
])
def test_the_in_step_check_notices_a_source_that_changed(
        tmp_path: Path, change: tuple[str, str], expected: str):
    source = tiny_lesson(tmp_path)
    old, new = change
    source.write_text(TINY_LESSON.replace(old, new), encoding="utf-8")
    problems = lessons.out_of_step(source)
    assert any(expected in p for p in problems), problems


def test_the_in_step_check_notices_a_missing_notebook(tmp_path: Path):
    source = tiny_lesson(tmp_path)
    source.with_suffix(".ipynb").unlink()
    assert lessons.out_of_step(source) == ["99-tiny.ipynb is missing"]


def test_the_in_step_check_notices_a_changed_cell_in_a_real_lesson(tmp_path: Path):
    source = SOURCES[0]
    copy = tmp_path / source.name
    shutil.copy(source, copy)
    nb = lessons.build(source)
    code = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    nb.cells[code].source += "\nprint('edited in the notebook, not in the source')"
    nbformat.write(nb, copy.with_suffix(".ipynb"))
    assert lessons.out_of_step(copy) == [f"{copy.stem}.ipynb: cell {code} differs from its source"]


def test_adjacent_prints_are_stored_as_one_output_and_order_is_kept():
    out = nbformat.v4.new_output
    outputs = [out("stream", name="stdout", text="a\n"), out("stream", name="stdout", text="b\n"),
               out("display_data", data={"text/plain": "figure"}),
               out("stream", name="stdout", text="c\n"), out("stream", name="stderr", text="!\n")]
    merged = lessons.merge_adjacent_streams(outputs)
    assert [(o.output_type, o.get("name"), o.get("text")) for o in merged] == [
        ("stream", "stdout", "a\nb\n"), ("display_data", None, None),
        ("stream", "stdout", "c\n"), ("stream", "stderr", "!\n")]
